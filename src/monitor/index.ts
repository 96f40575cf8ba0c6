/**
 * The monitor (docs/monitor.md): what other folders use. By concern:
 * ingest/ (ordered, exactly-once processing of the ingest streams: shard
 * leases, planning, result items, flap detection), hosts/ (presence,
 * liveness, the monitoring plane, the status database's read side),
 * scoring/ (badness rules and the scorer), alerts/ (the alert record,
 * dispatch, sinks, retry outbox, open problems, re-notification, `jabmon
 * notify`), alerting/ (the gate: grouping, routing, downtime, dependencies,
 * soft/hard states, freshness). monitor.ts assembles them; the Lua scripts
 * are in lua/, listed in scripts.ts.
 */
export { type Downtime, DowntimeError, type DowntimeInput } from "./alerting/index.js";
export {
  type Acknowledgement,
  ackTarget,
  type Silence,
  silenceMatches,
} from "./alerts/center.js";
export { nagiosAlert, raiseAlert } from "./alerts/notify.js";
export { type OpenProblem, problemKey } from "./alerts/problems.js";
export type { AlertRecord } from "./alerts/record.js";
export { pubsubSink } from "./alerts/sinks.js";
export { PresenceTracker } from "./hosts/presence.js";
export {
  type IngestWorker,
  type Monitor,
  type MonitorReads,
  monitorReads,
  startIngestWorker,
  startMonitor,
} from "./monitor.js";
