export { ConfigError, type EnvMap, loadConfig, readConfigFile, type Validator } from "./load.js";
export {
  type ComponentConfig,
  componentEnv,
  componentSchema,
} from "./schemas.js";
