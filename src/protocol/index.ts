export {
  type AgentPolicy,
  type AgentPolicyConfig,
  agentPolicy,
  openAgentPolicyWarning,
} from "./agents.js";
export { type GlobSteps, globMatch, globMatcher } from "./glob.js";
export {
  type CheckTally,
  type DerivedState,
  deriveHostStatus,
  describeChecks,
  type HostStatus,
  type HostStatusInput,
  rankOf,
  STATE_ORDER,
  tallyFromHash,
  worseState,
} from "./host-status.js";
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
export {
  type BackupResult,
  type CheckResult,
  type EventResult,
  type EventType,
  type Metric,
  type NagiosRange,
  type ParsedResult,
  parseNagiosRange,
  parseResult,
  RESULT_LIMITS,
  type Result,
  rangeBound,
  resultElement,
  type Severity,
  type Stamped,
  violatesRange,
  xmlSafeText,
} from "./results.js";
export { AGENT_SEQ_REORDER_SPAN } from "./seq.js";
