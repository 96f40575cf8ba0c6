/**
 * Turns ingest entries into the Redis operations that apply them (run by the
 * commitEntries script, each entry only if it is the next one for its agent).
 * Planning reads the current check state first (readItemStates, one pipeline
 * for a batch); that read is consistent because only the holder of the
 * agent's shard lease writes these keys, and the commit re-checks the lease.
 */
import { randomUUID } from "node:crypto";
import { AGENT_SEQ_REORDER_SPAN } from "../protocol/index.js";
import {
  type IngestStreamEntry,
  type Keys,
  type PipelineReplies,
  pipelineReply,
  type Redis,
} from "../store/index.js";
import { alertFields } from "./alert-types.js";
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
  flap: FlapThresholds;
  now: number;
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
}

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
      pipeline.hmget(keys.check(jid, item.name), "state", "flapping", "since", "lastSeq");
      pipeline.lrange(keys.flapWindow(jid, item.name), 0, FLAP_WINDOW - 2);
    } else if (item.kind === "backup") pipeline.hget(keys.backupLatest(jid), item.job);
  }
  const replies = ((await pipeline.exec()) ?? []) as PipelineReplies;
  let i = 0;
  const next = () => pipelineReply(replies, i++);
  return items.map(({ jid, item }) => {
    const state: ItemState = { hostName: (next() as string | null) || jid.split("@")[0] || jid };
    if (item.kind === "check") {
      state.check = next() as Array<string | null>;
      state.window = next() as string[];
    } else if (item.kind === "backup") state.backupLatest = next() as string | null;
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
  const jid = entry.owner;
  plan.op("touch", keys.host(jid), plan.k(keys.hosts()), now, jid);
  if (item.kind === "check") planCheck(plan, jid, item, state, ctx);
  else if (item.kind === "event") planEvent(plan, jid, item, ctx);
  else planBackup(plan, jid, item, state, ctx);
}

/** Each metric sample: raw (kept rawMs) and into its one-minute average (kept aggMs). */
function planMetrics(plan: Plan, jid: string, item: CheckItem, ctx: PlanContext) {
  const { keys, retention, now } = ctx;
  for (const metric of item.metrics) {
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
  const [previous = null, flappingRaw, since, lastSeq] = state.check ?? [];
  if (overtaken(item, lastSeq)) {
    planMetrics(plan, jid, item, ctx);
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
  ];
  if (changed || previous === null) fields.push("since", item.time, "lastChange", item.time);
  else if (!since) fields.push("since", item.time);
  plan.op("hset", checkKey, ...fields);
  plan.op("hset", keys.checks(jid), item.name, item.state);
  plan.op("lpush", flapKey, FLAP_WINDOW, item.state);
  if (changed || previous === null)
    plan.op(
      "lpush",
      keys.checkHistory(jid, item.name),
      retention.checkHistory,
      json({ time: item.time, from: previous, to: item.state, output: item.output, seq: item.seq }),
    );

  planMetrics(plan, jid, item, ctx);

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
    if (item.state !== "ok")
      alerts.push({ kind: "check", state: item.state, previous: before, text: item.output });
  } else if (changed && !flapping)
    alerts.push({ kind: "check", state: item.state, previous: before, text: item.output });
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
