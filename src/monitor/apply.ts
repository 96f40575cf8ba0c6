/**
 * Turns one ingest entry into the Redis operations that apply it (run by the
 * commitEntry script, all or nothing, only if the entry is the next one for
 * its agent). Planning reads the current check state first; that read is
 * consistent because only the holder of the agent's shard lease writes these
 * keys, and the commit re-checks the lease.
 */
import { randomUUID } from "node:crypto";
import type { IngestStreamEntry, Keys, Redis } from "../store/index.js";
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

/** Operations for commitEntry: keys are referenced by their (1-based) index in KEYS. */
export class Plan {
  readonly keys: string[];
  readonly ops: string[][] = [];
  readonly #index = new Map<string, string>();

  constructor(hostKey: string, leaseKey: string) {
    this.keys = [hostKey, leaseKey];
    this.#index.set(hostKey, "1");
  }

  k(key: string): string {
    let idx = this.#index.get(key);
    if (!idx) {
      this.keys.push(key);
      idx = String(this.keys.length);
      this.#index.set(key, idx);
    }
    return idx;
  }

  op(name: string, key: string, ...args: Array<string | number>): void {
    this.ops.push([name, this.k(key), ...args.map(String)]);
  }
}

export interface PlanContext {
  redis: Redis;
  keys: Keys;
  retention: Retention;
  flap: FlapThresholds;
  now: number;
}

const json = (v: unknown) => JSON.stringify(v);

export async function planItem(
  plan: Plan,
  entry: IngestStreamEntry,
  item: ResultItem,
  ctx: PlanContext,
): Promise<void> {
  const { keys, now } = ctx;
  const jid = entry.owner;
  plan.op("touch", keys.host(jid), plan.k(keys.hosts()), now, jid);
  if (item.kind === "check") await planCheck(plan, jid, item, ctx);
  else if (item.kind === "event") planEvent(plan, jid, item, ctx);
  else await planBackup(plan, jid, item, ctx);
}

async function hostName(ctx: PlanContext, jid: string): Promise<string> {
  return (await ctx.redis.hget(ctx.keys.host(jid), "host")) || jid.split("@")[0] || jid;
}

async function planCheck(plan: Plan, jid: string, item: CheckItem, ctx: PlanContext) {
  const { redis, keys, retention, now } = ctx;
  const checkKey = keys.check(jid, item.name);
  const flapKey = keys.flapWindow(jid, item.name);
  const [current, window] = await Promise.all([
    redis.hmget(checkKey, "state", "flapping", "since"),
    redis.lrange(flapKey, 0, FLAP_WINDOW - 2),
  ]);
  const [previous, flappingRaw, since] = current;
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

  let alert:
    | { state: string; previous: string; text: string; kind: "check" | "flapping" }
    | undefined;
  if (!wasFlapping && flapping)
    alert = {
      kind: "flapping",
      state: "start",
      previous: before,
      text: `${percent.toFixed(1)}% state change`,
    };
  else if (wasFlapping && !flapping)
    alert = {
      kind: "flapping",
      state: "stop",
      previous: "",
      text: `${percent.toFixed(1)}% state change, now ${item.state}: ${item.output}`,
    };
  else if (changed && !flapping)
    alert = { kind: "check", state: item.state, previous: before, text: item.output };
  if (alert) {
    plan.op(
      "xadd",
      keys.alertOutbox(),
      retention.outbox,
      ...alertFields({
        id: randomUUID(),
        jid,
        host: await hostName(ctx, jid),
        check: item.name,
        time: item.time,
        ...alert,
      }),
    );
  }
}

function planEvent(plan: Plan, jid: string, item: EventItem, ctx: PlanContext) {
  const { kind: _kind, ...event } = item;
  plan.op("lpush", ctx.keys.events(jid), ctx.retention.events, json(event));
}

async function planBackup(plan: Plan, jid: string, item: BackupItem, ctx: PlanContext) {
  const { redis, keys, retention } = ctx;
  const { kind: _kind, ...backup } = item;
  const latest = await redis.hget(keys.backupLatest(jid), item.job);
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
        host: await hostName(ctx, jid),
        check: item.job,
        state: item.status,
        previous: previous ?? "",
        text: item.message ?? (item.sizeBytes !== undefined ? `${item.sizeBytes} bytes` : ""),
        time: item.time,
      }),
    );
  }
}
