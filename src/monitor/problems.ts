/**
 * Open problems: the latest dispatched alert of every problem that has not
 * recovered yet (a host down, a check not ok, a failed backup, a bad score, a
 * Nagios problem), kept in one Redis hash and removed by the recovery alert.
 * It is fed by the AlertCenter's `dispatched` event, suppressed alerts
 * included (a silenced host that is down is still a problem), so it answers
 * "what is wrong now, and under which number" without scanning the bounded
 * alert log. RPC `alerts.list` and `alert.ack` read it.
 */
import type { Keys, Redis } from "../store/index.js";
import { RECORD_PROBLEM } from "../store/monitor-scripts.js";
import { type AlertRecord, isRecovery } from "./alert-types.js";

export interface OpenProblem {
  /** `<jid>|<kind>|<check>`: flapping counts as its check's problem. */
  key: string;
  /** The problem's latest alert (with its number, `num`). */
  alert: AlertRecord;
  /** When the first alert of this problem was dispatched (ms). */
  since: number;
}

/** A problem's identity: what a later alert of the same problem (or its recovery) shares. */
export function problemKey(alert: Pick<AlertRecord, "jid" | "kind" | "check">): string {
  const kind = alert.kind === "flapping" ? "check" : alert.kind;
  const check = kind === "host" || kind === "score" ? "" : alert.check;
  return `${alert.jid.toLowerCase()}|${kind}|${check}`;
}

type ScriptedRedis = Redis & {
  recordProblem(key: string, field: string, json: string, time: string): Promise<number>;
};

export class ProblemIndex {
  readonly #redis: ScriptedRedis;
  readonly #keys: Keys;

  constructor(redis: Redis, keys: Keys) {
    this.#redis = redis as ScriptedRedis;
    this.#keys = keys;
    if (typeof this.#redis.recordProblem !== "function")
      redis.defineCommand("recordProblem", { numberOfKeys: 1, lua: RECORD_PROBLEM });
  }

  /**
   * One script call per alert, issued synchronously, so the alerts of one
   * instance reach Redis in dispatch order (a quick down/up stays closed).
   */
  record(alert: AlertRecord): Promise<number> {
    const json = isRecovery(alert) ? "" : JSON.stringify(alert);
    return this.#redis.recordProblem(
      this.#keys.openProblems(),
      problemKey(alert),
      json,
      String(Math.trunc(alert.time) || Date.now()),
    );
  }

  async list(): Promise<OpenProblem[]> {
    const all = await this.#redis.hgetall(this.#keys.openProblems());
    const problems: OpenProblem[] = [];
    for (const [key, raw] of Object.entries(all)) {
      const bar = raw.indexOf("|");
      try {
        problems.push({
          key,
          since: Number(raw.slice(0, bar)),
          alert: JSON.parse(raw.slice(bar + 1)) as AlertRecord,
        });
      } catch {
        // A value this code did not write: skip it rather than fail the list.
      }
    }
    return problems;
  }

  /** Forget a problem (e.g. a host removed from the fleet). */
  async forget(key: string): Promise<boolean> {
    return (await this.#redis.hdel(this.#keys.openProblems(), key)) === 1;
  }
}
