/**
 * Result items as the monitor reads them: the shared codec of src/protocol
 * (docs/protocol.md, "Results"), each stamped with the agent's seq and time.
 */
import type { BackupResult, CheckResult, EventResult, Stamped } from "../../protocol/index.js";

export {
  HOST_STATES as CHECK_STATES,
  type HostState as CheckState,
  type Metric,
  type ParsedResult as ParsedItem,
  parseResult as parsePayload,
} from "../../protocol/index.js";
export type CheckItem = Stamped<CheckResult>;
export type EventItem = Stamped<EventResult>;
export type BackupItem = Stamped<BackupResult>;
export type ResultItem = CheckItem | EventItem | BackupItem;
