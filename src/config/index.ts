export {
  ConfigError,
  type EnvMap,
  loadConfig,
  readConfigFile,
  readSecretFile,
  secretFromEnv,
  type Validator,
} from "./load.js";
export {
  type AdminBotConfig,
  adminbotEnv,
  adminbotSchema,
  type ComponentConfig,
  componentEnv,
  componentSchema,
} from "./schemas.js";
export { MIN_SECRET_LENGTH, weakSecretReason } from "./secrets.js";
