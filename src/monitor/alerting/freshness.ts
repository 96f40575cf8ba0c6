/**
 * Freshness (Nagios' freshness checking): a check whose result carries the
 * `jabmon.freshness` label (seconds; the agent sets it from the check's
 * `freshness`) is expected again within that time. Each result moves its
 * deadline on (a sorted set, written with the result by commitEntries); a
 * check past its deadline, on a host still online, becomes `unknown` with the
 * output "stale result: …" and alerts as any state change does. Like a
 * result's commit, the same script recomputes the host's check tally and
 * publishes the host on `changes`, so the host's derived state (the status
 * model, docs/monitor.md "Host status") and every view follow. The next
 * result sets it to what it reports (and alerts its recovery).
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../../log/index.js";
import { defineScripts, type Keys, luaScript, type Redis } from "../../store/index.js";

export const FRESHNESS_LABEL = "jabmon.freshness";

/** The check's freshness (ms) from its label, or undefined when it has none (or a bad one). */
export function freshnessMs(labels: Record<string, string> | undefined): number | undefined {
  const raw = labels?.[FRESHNESS_LABEL];
  if (raw === undefined) return undefined;
  const s = Number(raw);
  return Number.isFinite(s) && s >= 1 && s <= 7 * 86_400 ? s * 1000 : undefined;
}

export const freshnessKey = (prefix: string) => `${prefix}alerting:fresh`;
export const freshnessMember = (jid: string, check: string) => `${jid}|${check}`;

/**
 * markCheckStale-6 (lua/): only still due (no result since) and only for an
 * online host (a host down alerts as such); the host's tally in the same step.
 */
export const MARK_STALE = luaScript(import.meta.url, "markCheckStale-6");

type ScriptedRedis = Redis & {
  markCheckStale(...keysThenArgv: Array<string | number>): Promise<number>;
};

export class FreshnessSweeper {
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
    private readonly outboxMax: number,
    /** A check of this host went stale: its score may depend on it (the monitor rescores). */
    private readonly onStale: (jid: string) => void = () => {},
  ) {
    this.redis = defineScripts<ScriptedRedis>(redis, { markCheckStale: MARK_STALE });
  }

  /** Marks the checks past their deadline; returns how many alerted. */
  async sweep(now = Date.now()): Promise<number> {
    const key = freshnessKey(this.keys.prefix);
    const due = await this.redis.zrangebyscore(key, "-inf", now, "WITHSCORES", "LIMIT", 0, 500);
    let alerted = 0;
    for (let i = 0; i + 1 < due.length; i += 2) {
      const member = due[i] as string;
      const bar = member.indexOf("|");
      const jid = member.slice(0, bar);
      const check = member.slice(bar + 1);
      const late = Math.round((now - Number(due[i + 1])) / 1000);
      const result = await this.redis.markCheckStale(
        key,
        this.keys.check(jid, check),
        this.keys.checks(jid),
        this.keys.host(jid),
        this.keys.alertOutbox(),
        this.keys.changes(),
        member,
        now,
        check,
        jid,
        randomUUID(),
        this.outboxMax,
        `stale result: no result within its freshness (${late > 0 ? `${late} s overdue` : "due now"})`,
      );
      if (result >= 1) this.onStale(jid);
      if (result === 2) {
        alerted += 1;
        this.log.info({ jid, check }, "check result stale");
      }
    }
    return alerted;
  }
}
