/**
 * Re-notification of long-standing problems. The open problems
 * (src/monitor/alerts/problems.ts) hold, per problem, the first notification to
 * repeat, the reminder count and whether it is acknowledged; a sorted set
 * (`problems:renotify`) schedules their fields by due time. A timer on every
 * instance runs one script, `renotifyDue-3`, that claims the due problems,
 * moves them on by one interval and writes a reminder to the alert outbox, in
 * one step: however many instances run, each reminder is written once, and
 * the schedule survives restarts.
 *
 * A reminder is an ordinary alert (`renotify` = 1, 2, ...; id
 * `<first id>-r<n>`), so silences and acks apply to it in dispatch. Dispatch
 * also checks the status database (stillCurrent()): a problem that is no
 * longer current (its recovery was dispatched out of order by another
 * instance) is closed.
 */
import type { Logger } from "../../log/index.js";
import { defineScripts, type Keys, type Redis } from "../../store/index.js";
import { RENOTIFY_DUE } from "../scripts.js";
import type { AlertRecord } from "./record.js";

type ScriptedRedis = Redis & {
  renotifyDue(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
};

/** Due problems one script call handles, so one call never blocks Redis for long. */
const BATCH = 100;

export interface RenotifierOptions {
  redis: Redis;
  keys: Keys;
  log: Logger;
  /** 0 disables re-notification. */
  intervalMs: number;
  outboxMax: number;
}

export class Renotifier {
  readonly #o: RenotifierOptions;
  readonly #redis: ScriptedRedis;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;

  constructor(options: RenotifierOptions) {
    this.#o = options;
    this.#redis = defineScripts<ScriptedRedis>(options.redis, { renotifyDue: RENOTIFY_DUE });
  }

  get enabled(): boolean {
    return this.#o.intervalMs > 0;
  }

  start(): void {
    if (!this.enabled) return;
    const every = Math.max(100, Math.min(5000, Math.floor(this.#o.intervalMs / 4)));
    this.#timer = setInterval(() => void this.tick(), every);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Write the reminders that are due (any instance may call this; each is written once). */
  async tick(now = Date.now()): Promise<number> {
    if (this.#ticking) return 0;
    this.#ticking = true;
    try {
      const { keys } = this.#o;
      return await this.#redis.renotifyDue(
        keys.renotifySchedule(),
        keys.openProblems(),
        keys.alertOutbox(),
        String(now),
        String(this.#o.intervalMs),
        String(this.#o.outboxMax),
        String(BATCH),
      );
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, "re-notification round failed");
      return 0;
    } finally {
      this.#ticking = false;
    }
  }

  /** Is the problem a reminder is about still current in the status database? */
  async stillCurrent(alert: AlertRecord): Promise<boolean> {
    const { redis, keys } = this.#o;
    switch (alert.kind) {
      case "host":
        return (await redis.hget(keys.host(alert.jid), "online")) === "0";
      case "score":
        return notOk(await redis.hget(keys.host(alert.jid), "scoreState"));
      case "check":
        return notOk(await redis.hget(keys.check(alert.jid, alert.check), "state"));
      case "backup": {
        const raw = await redis.hget(keys.backupLatest(alert.jid), alert.check);
        return notOk(raw ? (JSON.parse(raw) as { status?: string }).status : undefined);
      }
      default:
        return false;
    }
  }
}

/** A known state that is not ok (no state at all is no problem). */
const notOk = (state: string | null | undefined) =>
  state !== null && state !== undefined && state !== "ok";
