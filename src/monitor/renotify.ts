/**
 * Re-notification of long-standing problems. A problem alert that is
 * dispatched without an acknowledgement opens a "problem" in Redis
 * (`alerts:problems`, keyed `<kind>|<jid>|<check>`) due again after
 * `renotifyMs` (`alerts:renotify`, a sorted set by due time). Its recovery or
 * an acknowledgement closes it. A timer on every instance runs one script
 * that claims the due problems, moves them on by one interval and writes a
 * reminder to the alert outbox, in one step: however many instances run, each
 * reminder is written once, and the schedule survives restarts.
 *
 * A reminder is an ordinary alert (`renotify` = 1, 2, ...; id
 * `<first id>-r<n>`), so silences and acks apply to it in dispatch. Dispatch
 * also checks the status database: a problem that is no longer current (its
 * recovery was dispatched out of order by another instance) is closed.
 */
import type { Logger } from "../log/index.js";
import type { Keys, Redis } from "../store/index.js";
import { type AlertRecord, isRecovery } from "./alert-types.js";

/**
 * renotifyDue-3
 * KEYS: 1 schedule zset, 2 problems hash, 3 alert outbox
 * ARGV: 1 now (ms), 2 interval (ms), 3 outbox MAXLEN, 4 most problems per call
 * Returns the number of reminders written.
 */
export const RENOTIFY_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local written = 0
for _, key in ipairs(due) do
  local raw = redis.call('HGET', KEYS[2], key)
  if not raw then
    redis.call('ZREM', KEYS[1], key)
  else
    local p = cjson.decode(raw)
    local n = (tonumber(p.count) or 0) + 1
    p.count = n
    redis.call('HSET', KEYS[2], key, cjson.encode(p))
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), key)
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*',
      'id', p.id .. '-r' .. n, 'kind', p.kind, 'jid', p.jid, 'host', p.host,
      'check', p.check, 'state', p.state, 'previous', p.previous, 'text', p.text,
      'time', ARGV[1], 'renotify', tostring(n), 'since', p.time)
    written = written + 1
  end
end
return written
`;

type ScriptedRedis = Redis & {
  renotifyDue(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
};

const RENOTIFIED_KINDS = new Set(["host", "check", "score", "backup"]);

/** The problem an alert opens or closes; undefined for kinds that are not re-notified. */
export function problemKey(alert: AlertRecord): string | undefined {
  if (!RENOTIFIED_KINDS.has(alert.kind)) return undefined;
  return `${alert.kind}|${alert.jid.toLowerCase()}|${alert.kind === "host" || alert.kind === "score" ? "" : alert.check}`;
}

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
    this.#redis = options.redis as ScriptedRedis;
    if (typeof this.#redis.renotifyDue !== "function")
      options.redis.defineCommand("renotifyDue", { numberOfKeys: 3, lua: RENOTIFY_DUE });
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
        keys.alertRenotify(),
        keys.alertProblems(),
        keys.alertOutbox(),
        String(now),
        String(this.#o.intervalMs),
        String(this.#o.outboxMax),
        "100",
      );
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, "re-notification round failed");
      return 0;
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * After a first notification was dispatched: a problem (not acknowledged)
   * opens, a recovery closes. Silenced problems open too, so they are
   * re-notified once the silence is over (reminders are silenced meanwhile).
   */
  async track(alert: AlertRecord, acknowledged: boolean): Promise<void> {
    const key = problemKey(alert);
    if (!key || alert.renotify) return;
    if (isRecovery(alert) || acknowledged) return this.close(key);
    if (!this.enabled) return;
    const { redis, keys } = this.#o;
    const problem = {
      id: alert.id,
      kind: alert.kind,
      jid: alert.jid,
      host: alert.host,
      check: alert.check,
      state: alert.state,
      previous: alert.previous,
      text: alert.text,
      time: String(alert.time),
      count: 0,
    };
    await redis
      .multi()
      .hset(keys.alertProblems(), key, JSON.stringify(problem))
      .zadd(keys.alertRenotify(), Date.now() + this.#o.intervalMs, key)
      .exec();
  }

  /** An acknowledgement of a host (check "") or a check ends its reminders. */
  async acknowledged(jid: string, check: string): Promise<void> {
    const j = jid.toLowerCase();
    const keys =
      check === ""
        ? [`host|${j}|`, `score|${j}|`]
        : [`check|${j}|${check}`, `backup|${j}|${check}`];
    await this.close(...keys);
  }

  async close(...problemKeys: string[]): Promise<void> {
    const { redis, keys } = this.#o;
    await redis
      .multi()
      .hdel(keys.alertProblems(), ...problemKeys)
      .zrem(keys.alertRenotify(), ...problemKeys)
      .exec();
  }

  /** Is the problem a reminder is about still current in the status database? */
  async stillCurrent(alert: AlertRecord): Promise<boolean> {
    const { redis, keys } = this.#o;
    let current: boolean;
    switch (alert.kind) {
      case "host":
        current = (await redis.hget(keys.host(alert.jid), "online")) === "0";
        break;
      case "score": {
        const state = await redis.hget(keys.host(alert.jid), "scoreState");
        current = state !== null && state !== "ok";
        break;
      }
      case "check": {
        const state = await redis.hget(keys.check(alert.jid, alert.check), "state");
        current = state !== null && state !== "ok";
        break;
      }
      case "backup": {
        const raw = await redis.hget(keys.backupLatest(alert.jid), alert.check);
        const status = raw ? (JSON.parse(raw) as { status?: string }).status : undefined;
        current = status !== undefined && status !== "ok";
        break;
      }
      default:
        current = false;
    }
    const key = problemKey(alert);
    if (!current && key) await this.close(key);
    return current;
  }
}
