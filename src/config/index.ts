export { ConfigError, type EnvMap, loadConfig, readConfigFile, type Validator } from "./load.js";
export {
  type AdminBotConfig,
  adminbotEnv,
  adminbotSchema,
  type ComponentConfig,
  componentEnv,
  componentSchema,
} from "./schemas.js";
