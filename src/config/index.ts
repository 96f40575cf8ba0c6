export { ConfigError, type EnvMap, loadConfig, readConfigFile } from "./load.js";
export {
  type AgentConfig,
  agentEnv,
  agentSchema,
  type ComponentConfig,
  componentEnv,
  componentSchema,
} from "./schemas.js";
