/**
 * Turns ingest entries into the Redis operations that apply them (run by the
 * commitEntries script, each entry only if it is the next one for its agent).
 * Planning reads the current check state first (readItemStates, one pipeline
 * for a batch); that read is consistent because only the holder of the
 * agent's shard lease writes these keys, and the commit re-checks the lease.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../../log/index.js";
import { AGENT_SEQ_REORDER_SPAN } from "../../protocol/index.js";
import {
  type IngestStreamEntry,
  type Keys,
  type PipelineReplies,
  pipelineReply,
  type Redis,
} from "../../store/index.js";
import { freshnessKey, freshnessMember, freshnessMs } from "../alerting/freshness.js";
import { checkAttempts, nextSoftHard } from "../alerting/soft-hard.js";
import { alertFields } from "../alerts/record.js";
import { FLAP_WINDOW, type FlapThresholds, isFlapping, percentStateChange } from "./flap.js";
import type { BackupItem, CheckItem, EventItem, ResultItem } from "./items.js";

export interface Retention {
  /** State changes kept per check. */
  checkHistory: number;
  /** Events kept per host. */
  events: number;
  /** Backup reports kept per host. */
  backups: number;
  /** Raw metric samples are kept this long (ms). */
  rawMs: number;
  /** One-minute averages are kept this long (ms). */
  aggMs: number;
  /** Alert outbox length (approximate). */
  outbox: number;
}

/**
 * Bounds on what agents can make the status database hold: names (checks,
 * metric series, backup jobs) and timestamps are the agents' to choose. An
 * item past a bound is not stored (or only in part): the drop is counted by
 * reason (`limits:dropped` in Redis) and logged, never silent.
 */
export interface StoreLimits {
  /** Distinct checks per host; a result of a new check past it is dropped. */
  maxChecksPerHost: number;
  /** Distinct metric series (check/metric) per host; new series past it are dropped. */
  maxSeriesPerHost: number;
  /** Metric samples kept from one result; the rest are dropped. */
  maxMetricsPerResult: number;
  /** Distinct backup jobs per host; a report of a new job past it is dropped. */
  maxBackupJobsPerHost: number;
  /** Longest metric or backup job name kept (check names are cut at 200 on parsing). */
  maxNameLength: number;
  /**
   * A time further ahead of the server's clock than this (ms) is replaced by
   * the server's time: a far-future sample would never be trimmed.
   */
  maxClockAheadMs: number;
}

export const DEFAULT_LIMITS: StoreLimits = {
  maxChecksPerHost: 500,
  maxSeriesPerHost: 2000,
  maxMetricsPerResult: 100,
  maxBackupJobsPerHost: 100,
  maxNameLength: 200,
  maxClockAheadMs: 300_000,
};

export type LimitReason =
  | "too-many-checks"
  | "too-many-series"
  | "too-many-metrics"
  | "too-many-backup-jobs"
  | "name-too-long"
  | "time-ahead";

/** What planning an item dropped or changed to stay within the limits. */
export interface LimitNote {
  jid: string;
  reason: LimitReason;
  /** How many things (samples, the item itself: 1) it concerns. */
  count: number;
  detail: string;
}

export const DEFAULT_RETENTION: Retention = {
  checkHistory: 100,
  events: 500,
  backups: 200,
  rawMs: 3_600_000,
  aggMs: 86_400_000,
  outbox: 100_000,
};

/**
 * The keys of one commitEntries call: operations refer to a key by its
 * (1-based) index in KEYS, so a key used by several entries is sent once.
 */
export class KeyTable {
  readonly keys: string[] = [];
  readonly #index = new Map<string, string>();

  k(key: string): string {
    let idx = this.#index.get(key);
    if (!idx) {
      this.keys.push(key);
      idx = String(this.keys.length);
      this.#index.set(key, idx);
    }
    return idx;
  }
}

/** One entry's operations for commitEntries. */
export class Plan {
  readonly ops: string[][] = [];
  /** Limits applied while planning (reported by `reportLimitNotes` after the commit). */
  readonly notes: LimitNote[] = [];
  /** Index of the shard's lease key in the table. */
  readonly lease: string;
  /** Index of the host hash (it holds processedSeq) in the table. */
  readonly host: string;

  constructor(
    readonly table: KeyTable,
    leaseKey: string,
    hostKey: string,
    readonly nodeSeq: number,
  ) {
    this.lease = table.k(leaseKey);
    this.host = table.k(hostKey);
  }

  k(key: string): string {
    return this.table.k(key);
  }

  op(name: string, key: string, ...args: Array<string | number>): void {
    this.ops.push([name, this.k(key), ...args.map(String)]);
  }
}

/** The commitEntries argument for some plans, in commit order. */
export function planArgs(plans: Plan[]): string {
  return JSON.stringify(plans.map((p) => [p.lease, p.host, String(p.nodeSeq), p.ops]));
}

export interface PlanContext {
  keys: Keys;
  retention: Retention;
  /** Defaults to DEFAULT_LIMITS. */
  limits?: StoreLimits;
  flap: FlapThresholds;
  now: number;
  /** Consecutive bad results before a check's state is hard and alerts (default 1). */
  checkAttempts?: number;
}

/** What planning an item needs from the status database (read by readItemStates). */
export interface ItemState {
  hostName: string;
  /** Check items: the stored state, flapping flag, since and lastSeq of the check. */
  check?: Array<string | null>;
  /** Check items: the states before this one, newest first. */
  window?: string[];
  /** Backup items: the job's latest report (JSON). */
  backupLatest?: string | null;
  /** Check items: distinct checks the host has. */
  checkCount?: number;
  /** Check items: distinct metric series the host has, and which of this item's exist. */
  seriesCount?: number;
  seriesKnown?: boolean[];
  /** Backup items: distinct backup jobs the host has. */
  jobCount?: number;
}

/** The series names of a check item's metrics, as stored (`check/metric`). */
const seriesOf = (item: CheckItem) => item.metrics.map((m) => `${item.name}/${m.name}`);

/**
 * Reads the state of several items in one round trip. Items of one agent must
 * not be planned from one read if an earlier one changes what a later one
 * reads: the caller reads at most one item per agent at a time.
 */
export async function readItemStates(
  redis: Redis,
  keys: Keys,
  items: Array<{ jid: string; item: ResultItem }>,
): Promise<ItemState[]> {
  const pipeline = redis.pipeline();
  for (const { jid, item } of items) {
    pipeline.hget(keys.host(jid), "host");
    if (item.kind === "check") {
      pipeline.hmget(
        keys.check(jid, item.name),
        "state",
        "flapping",
        "since",
        "lastSeq",
        "hardState",
        "attempt",
      );
      pipeline.lrange(keys.flapWindow(jid, item.name), 0, FLAP_WINDOW - 2);
      pipeline.hlen(keys.checks(jid));
      pipeline.scard(keys.metricSeries(jid));
      const series = seriesOf(item);
      if (series.length > 0) pipeline.smismember(keys.metricSeries(jid), ...series);
    } else if (item.kind === "backup") {
      pipeline.hget(keys.backupLatest(jid), item.job);
      pipeline.hlen(keys.backupLatest(jid));
    }
  }
  const replies = ((await pipeline.exec()) ?? []) as PipelineReplies;
  let i = 0;
  const next = () => pipelineReply(replies, i++);
  return items.map(({ jid, item }) => {
    const state: ItemState = { hostName: (next() as string | null) || jid.split("@")[0] || jid };
    if (item.kind === "check") {
      state.check = next() as Array<string | null>;
      state.window = next() as string[];
      state.checkCount = Number(next() ?? 0);
      state.seriesCount = Number(next() ?? 0);
      state.seriesKnown = item.metrics.length > 0 ? (next() as number[]).map((n) => n === 1) : [];
    } else if (item.kind === "backup") {
      state.backupLatest = next() as string | null;
      state.jobCount = Number(next() ?? 0);
    }
    return state;
  });
}

const json = (v: unknown) => JSON.stringify(v);

export function planItem(
  plan: Plan,
  entry: IngestStreamEntry,
  item: ResultItem,
  state: ItemState,
  ctx: PlanContext,
): void {
  const { keys, now } = ctx;
  const limits = ctx.limits ?? DEFAULT_LIMITS;
  const jid = entry.owner;
  plan.op("touch", keys.host(jid), plan.k(keys.hosts()), now, jid);
  const bounded = withinClock(plan, jid, item, now, limits);
  if (bounded.kind === "check") {
    if (newNamePastLimit(state.check?.[0], state.checkCount, limits.maxChecksPerHost)) {
      plan.notes.push({
        jid,
        reason: "too-many-checks",
        count: 1,
        detail: `check ${bounded.name}: the host has ${state.checkCount} checks (limit ${limits.maxChecksPerHost})`,
      });
      return;
    }
    planCheck(plan, jid, bounded, state, ctx);
  } else if (bounded.kind === "event") planEvent(plan, jid, bounded, ctx);
  else {
    if (bounded.job.length > limits.maxNameLength) {
      plan.notes.push({
        jid,
        reason: "name-too-long",
        count: 1,
        detail: `backup job name of ${bounded.job.length} characters (limit ${limits.maxNameLength})`,
      });
      return;
    }
    const known = state.backupLatest !== null && state.backupLatest !== undefined;
    if (!known && (state.jobCount ?? 0) >= limits.maxBackupJobsPerHost) {
      plan.notes.push({
        jid,
        reason: "too-many-backup-jobs",
        count: 1,
        detail: `backup job ${bounded.job}: the host has ${state.jobCount} jobs (limit ${limits.maxBackupJobsPerHost})`,
      });
      return;
    }
    planBackup(plan, jid, bounded, state, ctx);
  }
}

/** A new name (no stored state) when the host already has `count` of the limit. */
function newNamePastLimit(stored: string | null | undefined, count = 0, limit = Infinity) {
  return (stored === null || stored === undefined) && count >= limit;
}

/**
 * The item with a time no further ahead of the server's clock than allowed:
 * a far-future time is replaced by the server's (and noted).
 */
function withinClock<T extends ResultItem>(
  plan: Plan,
  jid: string,
  item: T,
  now: number,
  limits: StoreLimits,
): T {
  if (item.time <= now + limits.maxClockAheadMs) return item;
  plan.notes.push({
    jid,
    reason: "time-ahead",
    count: 1,
    detail: `${item.kind} time ${new Date(item.time).toISOString()} is ${Math.round((item.time - now) / 1000)} s ahead of the server: server time used`,
  });
  return { ...item, time: now };
}

/**
 * The metric samples that may be stored: at most maxMetricsPerResult, and a
 * new series only while the host is under maxSeriesPerHost.
 */
function boundedMetrics(
  plan: Plan,
  jid: string,
  item: CheckItem,
  state: ItemState,
  ctx: PlanContext,
) {
  const limits = ctx.limits ?? DEFAULT_LIMITS;
  const kept: CheckItem["metrics"] = [];
  let seriesCount = state.seriesCount ?? 0;
  let tooMany = 0;
  let newPastLimit = 0;
  let tooLong = 0;
  const seen = new Set<string>();
  item.metrics.forEach((metric, i) => {
    if (kept.length >= limits.maxMetricsPerResult) {
      tooMany++;
      return;
    }
    if (metric.name.length > limits.maxNameLength) {
      tooLong++;
      return;
    }
    const series = `${item.name}/${metric.name}`;
    const known = state.seriesKnown?.[i] === true || seen.has(series);
    if (!known && seriesCount >= limits.maxSeriesPerHost) {
      newPastLimit++;
      return;
    }
    if (!known) seriesCount++;
    seen.add(series);
    kept.push(metric);
  });
  if (tooMany > 0)
    plan.notes.push({
      jid,
      reason: "too-many-metrics",
      count: tooMany,
      detail: `check ${item.name}: ${item.metrics.length} metrics in one result (limit ${limits.maxMetricsPerResult})`,
    });
  if (tooLong > 0)
    plan.notes.push({
      jid,
      reason: "name-too-long",
      count: tooLong,
      detail: `check ${item.name}: ${tooLong} metric names longer than ${limits.maxNameLength} characters`,
    });
  if (newPastLimit > 0)
    plan.notes.push({
      jid,
      reason: "too-many-series",
      count: newPastLimit,
      detail: `check ${item.name}: ${newPastLimit} new metric series past the host's limit of ${limits.maxSeriesPerHost}`,
    });
  return kept;
}

/** Each metric sample: raw (kept rawMs) and into its one-minute average (kept aggMs). */
function planMetrics(plan: Plan, jid: string, item: CheckItem, state: ItemState, ctx: PlanContext) {
  const { keys, retention, now } = ctx;
  for (const metric of boundedMetrics(plan, jid, item, state, ctx)) {
    const series = `${item.name}/${metric.name}`;
    const minute = Math.floor(item.time / 60_000) * 60_000;
    plan.op("sadd", keys.metricSeries(jid), series);
    plan.op(
      "metric",
      keys.metricRaw(jid, series),
      plan.k(keys.metricAgg(jid, series)),
      plan.k(keys.metricAggIndex(jid, series)),
      item.time,
      metric.value,
      now - retention.rawMs,
      minute,
      now - retention.aggMs,
    );
  }
}

/**
 * A result the agent made before the one the check shows, but processed after
 * it: with several component connections, ejabberd may deliver an agent's
 * in-flight publishes out of order. It must not set the check back to an older
 * state (nor alert on it); its metric samples are still good data.
 */
function overtaken(item: CheckItem, lastSeqRaw: string | null | undefined): boolean {
  const lastSeq = Number(lastSeqRaw ?? 0);
  return item.seq > 0 && item.seq < lastSeq && lastSeq - item.seq <= AGENT_SEQ_REORDER_SPAN;
}

function planCheck(plan: Plan, jid: string, item: CheckItem, state: ItemState, ctx: PlanContext) {
  const { keys, retention } = ctx;
  const checkKey = keys.check(jid, item.name);
  const flapKey = keys.flapWindow(jid, item.name);
  const [previous = null, flappingRaw, since, lastSeq, hardRaw = null, attemptRaw = null] =
    state.check ?? [];
  if (overtaken(item, lastSeq)) {
    planMetrics(plan, jid, item, state, ctx);
    return;
  }
  const window = state.window ?? [];
  const wasFlapping = flappingRaw === "1";
  // A new check is taken to have been ok before (as Nagios assumes): a new
  // failing check alerts, a new passing one does not.
  const before = previous ?? "ok";
  const changed = item.state !== before;
  const states = [item.state, ...window].reverse(); // oldest first
  const percent = percentStateChange(states);
  const flapping = isFlapping(percent, wasFlapping, ctx.flap);
  // Alerts follow the hard state (src/monitor/alerting/soft-hard.ts).
  const attempts = checkAttempts(item.labels, ctx.checkAttempts ?? 1);
  const sh = nextSoftHard(
    { state: previous, hardState: hardRaw, attempt: attemptRaw },
    item.state,
    attempts,
  );

  const fields: Array<string | number> = [
    "name",
    item.name,
    "state",
    item.state,
    "output",
    item.output,
    "longOutput",
    item.longOutput ?? "",
    "lastResult",
    item.time,
    "lastSeq",
    item.seq,
    "durationMs",
    item.durationMs ?? "",
    "passive",
    item.passive ? "1" : "0",
    "metrics",
    json(item.metrics),
    "labels",
    json(item.labels),
    "flapping",
    flapping ? "1" : "0",
    "flapPercent",
    percent.toFixed(1),
    "attempt",
    sh.attempt,
    "maxAttempts",
    sh.attempts,
    "stateType",
    sh.stateType,
    "hardState",
    sh.hardState,
  ];
  if (changed || previous === null) fields.push("since", item.time, "lastChange", item.time);
  else if (!since) fields.push("since", item.time);
  plan.op("hset", checkKey, ...fields);
  plan.op("hset", keys.checks(jid), item.name, item.state);
  // The status model's input, in this same commit (src/store/host-status.ts).
  plan.op("tally", keys.checks(jid), plan.k(keys.host(jid)), plan.k(keys.changes()), jid);
  plan.op("lpush", flapKey, FLAP_WINDOW, item.state);
  // Freshness: the next result is due within the check's freshness (FreshnessSweeper).
  const fresh = freshnessMs(item.labels);
  if (fresh !== undefined)
    plan.op("zadd", freshnessKey(keys.prefix), ctx.now + fresh, freshnessMember(jid, item.name));
  if (changed || previous === null)
    plan.op(
      "lpush",
      keys.checkHistory(jid, item.name),
      retention.checkHistory,
      json({ time: item.time, from: previous, to: item.state, output: item.output, seq: item.seq }),
    );

  planMetrics(plan, jid, item, state, ctx);

  type CheckAlert = { state: string; previous: string; text: string; kind: "check" | "flapping" };
  const alerts: CheckAlert[] = [];
  if (!wasFlapping && flapping)
    alerts.push({
      kind: "flapping",
      state: "start",
      previous: before,
      text: `${percent.toFixed(1)}% state change`,
    });
  else if (wasFlapping && !flapping) {
    alerts.push({
      kind: "flapping",
      state: "stop",
      previous: "",
      text: `${percent.toFixed(1)}% state change, now ${item.state}: ${item.output}`,
    });
    // The end of flapping closes the check's problem; settled in a bad state,
    // the check is a problem again (as Nagios notifies once flapping ends).
    if (item.state !== "ok" && sh.stateType === "hard")
      alerts.push({ kind: "check", state: item.state, previous: before, text: item.output });
  } else if (sh.hardChanged && !flapping)
    alerts.push({ kind: "check", state: item.state, previous: sh.previousHard, text: item.output });
  for (const alert of alerts)
    plan.op(
      "xadd",
      keys.alertOutbox(),
      retention.outbox,
      ...alertFields({
        id: randomUUID(),
        jid,
        host: state.hostName,
        check: item.name,
        time: item.time,
        ...alert,
      }),
    );
}

function planEvent(plan: Plan, jid: string, item: EventItem, ctx: PlanContext) {
  const { kind: _kind, ...event } = item;
  plan.op("lpush", ctx.keys.events(jid), ctx.retention.events, json(event));
}

function planBackup(plan: Plan, jid: string, item: BackupItem, state: ItemState, ctx: PlanContext) {
  const { keys, retention } = ctx;
  const { kind: _kind, ...backup } = item;
  const latest = state.backupLatest;
  const previous = latest ? (JSON.parse(latest) as { status?: string }).status : undefined;
  plan.op("lpush", keys.backups(jid), retention.backups, json(backup));
  plan.op("hset", keys.backupLatest(jid), item.job, json(backup));
  // One alert per change; a first backup alerts only if it failed.
  if (item.status !== (previous ?? "ok")) {
    plan.op(
      "xadd",
      keys.alertOutbox(),
      retention.outbox,
      ...alertFields({
        id: randomUUID(),
        kind: "backup",
        jid,
        host: state.hostName,
        check: item.job,
        state: item.status,
        previous: previous ?? "",
        text: item.message ?? (item.sizeBytes !== undefined ? `${item.sizeBytes} bytes` : ""),
        time: item.time,
      }),
    );
  }
}

/**
 * After a commit: count what the limits dropped, by reason (`limits:dropped`,
 * one HINCRBY each) and log one line per item. The count is kept apart from
 * the commit: a crash in between undercounts, it never loses data.
 */
export async function reportLimitNotes(
  redis: Redis,
  keys: Keys,
  log: Logger,
  notes: LimitNote[],
): Promise<void> {
  if (notes.length === 0) return;
  const pipeline = redis.pipeline();
  for (const note of notes) {
    log.warn({ jid: note.jid, reason: note.reason, count: note.count }, `limit: ${note.detail}`);
    pipeline.hincrby(limitsDroppedKey(keys), note.reason, note.count);
  }
  await pipeline.exec();
}

/** Redis hash: reason → items or samples dropped or changed by the store limits. */
export const limitsDroppedKey = (keys: Keys) => `${keys.prefix}limits:dropped`;
