/**
 * Scheduled downtime (Nagios/Icinga style): windows in which a host's (or a
 * glob of hosts', or a check's) problems are recorded but not notified. A
 * window is one-off (start, end) or recurring: a cron expression (UTC, parsed
 * by cron-parser) for its starts and a duration. A problem still open when
 * its window ends is notified then (AlertGate).
 */
import { CronExpressionParser } from "cron-parser";
import type { Redis } from "../../store/index.js";
import type { AlertRecord } from "../alerts/record.js";
import type { AlertingKeys } from "./keys.js";
import { checkMatches, hostMatches } from "./match.js";

export interface Downtime {
  /** Short decimal number: "downtime.remove 3". */
  id: string;
  /** Glob on the host's JID, local part or name (`web-*`). */
  host: string;
  /** Glob on the check name; `*` (default) also covers host-level alerts. */
  check: string;
  comment: string;
  createdBy: string;
  createdAt: number;
  /** One-off: the window. Recurring: when the schedule starts and stops applying. */
  start: number;
  end: number;
  /** Recurring: cron expression (5 or 6 fields, UTC) of the window starts. */
  cron?: string;
  /** Recurring: each window's length (ms). */
  durationMs?: number;
}

export interface DowntimeInput {
  host: string;
  check?: string;
  comment?: string;
  createdBy?: string;
  /** One-off: start (default now) and either end or durationMs. */
  start?: number;
  end?: number;
  durationMs?: number;
  /** Recurring: cron + durationMs; `end` (optional) stops the schedule. */
  cron?: string;
}

export class DowntimeError extends Error {}

const FOREVER = 8.64e15;

/** The window of `d` that contains `now`, if any. */
export function activeWindow(d: Downtime, now: number): { start: number; end: number } | undefined {
  if (now < d.start || now >= d.end) return undefined;
  if (!d.cron) return { start: d.start, end: d.end };
  // The latest start at or before now; its window is [start, start + duration).
  const expr = CronExpressionParser.parse(d.cron, { currentDate: new Date(now + 1), tz: "UTC" });
  const start = expr.prev().getTime();
  const end = Math.min(d.end, start + (d.durationMs ?? 0));
  return now < end ? { start, end } : undefined;
}

export function downtimeCovers(d: Downtime, alert: AlertRecord, now: number): boolean {
  return (
    activeWindow(d, now) !== undefined &&
    hostMatches(d.host, alert) &&
    checkMatches(d.check, alert.check)
  );
}

/** Validates and normalises what RPC or AdminBot asked for; throws DowntimeError naming the field. */
export function normaliseDowntime(input: DowntimeInput, now: number): Omit<Downtime, "id"> {
  if (!input.host || typeof input.host !== "string")
    throw new DowntimeError("host: a host name or glob is required");
  const base = {
    host: input.host,
    check: input.check || "*",
    comment: input.comment ?? "",
    createdBy: input.createdBy ?? "",
    createdAt: now,
  };
  if (input.cron) {
    if (!(Number(input.durationMs) > 0))
      throw new DowntimeError("durationMs: a recurring downtime needs a window length");
    try {
      CronExpressionParser.parse(input.cron, { tz: "UTC" });
    } catch (err) {
      throw new DowntimeError(`cron: ${(err as Error).message}`);
    }
    return {
      ...base,
      cron: input.cron,
      durationMs: Number(input.durationMs),
      start: input.start ?? now,
      end: input.end ?? FOREVER,
    };
  }
  const start = input.start ?? now;
  const end = input.end ?? (input.durationMs ? start + input.durationMs : Number.NaN);
  if (!Number.isFinite(end)) throw new DowntimeError("end: give an end or a durationMs");
  if (!(end > start)) throw new DowntimeError("end: must be after the start");
  if (!(end > now)) throw new DowntimeError("end: must be in the future");
  return { ...base, start, end };
}

export class DowntimeStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: AlertingKeys,
  ) {}

  async add(input: DowntimeInput, now = Date.now()): Promise<Downtime> {
    const fields = normaliseDowntime(input, now);
    const id = String(await this.redis.incr(this.keys.downtimeSeq()));
    const downtime: Downtime = { id, ...fields };
    await this.redis.hset(this.keys.downtimes(), id, JSON.stringify(downtime));
    return downtime;
  }

  /** Downtimes not over yet (active or to come); finished ones are removed on the way. */
  async list(now = Date.now()): Promise<Downtime[]> {
    const all = await this.redis.hgetall(this.keys.downtimes());
    const current: Downtime[] = [];
    const over: string[] = [];
    for (const [id, raw] of Object.entries(all)) {
      const d = JSON.parse(raw) as Downtime;
      if (d.end > now) current.push(d);
      else over.push(id);
    }
    if (over.length > 0) await this.redis.hdel(this.keys.downtimes(), ...over);
    return current.sort((a, b) => Number(a.id) - Number(b.id));
  }

  async remove(id: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.downtimes(), id)) === 1;
  }

  /** The active downtime covering the alert, if any. */
  async covering(alert: AlertRecord, now = Date.now()): Promise<Downtime | undefined> {
    return (await this.list(now)).find((d) => downtimeCovers(d, alert, now));
  }
}
