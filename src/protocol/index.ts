export * from "./ns.js";
export {
  type AgentStatus,
  HOST_STATES,
  type HostState,
  LIMITS,
  type ParsedStatus,
  parseStatusPresence,
  statusPresence,
} from "./presence.js";
export { AGENT_SEQ_REORDER_SPAN } from "./seq.js";
