export { DependencyMap, parentJid } from "./dependencies.js";
export {
  activeWindow,
  type Downtime,
  DowntimeError,
  type DowntimeInput,
  DowntimeStore,
  downtimeCovers,
  normaliseDowntime,
} from "./downtime.js";
export { AlertGate, type AlertGateOptions, type HeldAlert } from "./gate.js";
export { groupKey } from "./groups.js";
export { groupMessage, rateSummary, withDependants } from "./messages.js";
export { buildReceivers, type ReceiverSinks } from "./receivers.js";
export {
  type EscalationStep,
  type ReceiverConfig,
  type RouteConfig,
  routeAlert,
  routeMatches,
} from "./routing.js";
export {
  type AlertingSettings,
  DEFAULT_ALERTING,
  type DependencyRule,
  GROUP_LABELS,
  type GroupLabel,
  type InhibitRule,
} from "./settings.js";
export { ATTEMPTS_LABEL, checkAttempts, nextSoftHard } from "./soft-hard.js";
