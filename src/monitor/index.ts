export { type AlertKind, type AlertRecord, alertMessage, isRecovery } from "./alert-types.js";
export {
  type Acknowledgement,
  AlertCenter,
  type AlertSink,
  ackTarget,
  type DispatchedAlert,
  globMatch,
  type Silence,
  silenceMatches,
} from "./alerts.js";
export { DEFAULT_RETENTION, type Retention } from "./apply.js";
export {
  DEFAULT_FLAP_THRESHOLDS,
  type FlapThresholds,
  isFlapping,
  percentStateChange,
} from "./flap.js";
export { IngestConsumer } from "./ingest.js";
export { type CheckItem, parsePayload, type ResultItem } from "./items.js";
export { Liveness, STALE_REASON } from "./liveness.js";
export {
  type AlertSettings,
  defaultRulesFile,
  type Monitor,
  type MonitorSettings,
  startMonitor,
} from "./monitor.js";
export { type NotifyArgs, NotifyError, nagiosAlert, raiseAlert } from "./notify.js";
export { type Deliverer, OfflineQueue, type QueuedEntry } from "./offline-queue.js";
export { type PresenceEvents, PresenceTracker, type PresenceTrackerOptions } from "./presence.js";
export {
  acknowledgedProblemKeys,
  type DispatchOutcome,
  type OpenProblem,
  ProblemIndex,
  type ProblemIndexOptions,
  problemKey,
} from "./problems.js";
export { Renotifier, type RenotifierOptions } from "./renotify.js";
export {
  loadRules,
  parseRules,
  RuleError,
  type RuleSet,
  type ScoreContext,
  type ScoreResult,
  scoreHost,
} from "./rules.js";
export { buildScoreContext, Scorer } from "./score.js";
export {
  ALERTS_NODE,
  alertElement,
  type ItemPublisher,
  type PubsubAlertSink,
  pubsubSink,
} from "./sinks.js";
export {
  type CheckView,
  type HostDetail,
  type HostSummary,
  type ScoreView,
  type SeriesPoint,
  StatusReader,
} from "./status.js";
