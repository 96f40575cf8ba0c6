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
  COMPONENT_ROLES,
  type ComponentConfig,
  type ComponentRole,
  componentEnv,
  componentSchema,
  LINK_ROLES,
} from "./schemas.js";
export { MIN_SECRET_LENGTH, weakSecretReason } from "./secrets.js";
