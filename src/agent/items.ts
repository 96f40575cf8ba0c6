/**
 * Result items the agent publishes: the shared codec of src/protocol
 * (docs/protocol.md, "Results"), under the names the agent's code uses.
 * Built once, serialised into the spool, and parsed back only when published.
 */
export {
  type BackupResult as BackupItem,
  type CheckResult as CheckItem,
  type EventResult as EventItem,
  type EventType,
  type Metric,
  type Result as Item,
  resultElement as itemElement,
  type Severity,
  xmlSafeText as clean,
} from "../protocol/index.js";
