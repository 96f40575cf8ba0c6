export { ConfigError, type EnvMap, loadConfig, readConfigFile } from "./load.js";
export {
  type AdminBotConfig,
  type AgentConfig,
  adminbotEnv,
  adminbotSchema,
  agentEnv,
  agentSchema,
  type ComponentConfig,
  componentEnv,
  componentSchema,
} from "./schemas.js";
