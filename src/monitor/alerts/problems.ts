/**
 * Open problems: every problem that has not recovered yet (a host down, a
 * check not ok, a failed backup, a bad score, a Nagios problem), in one Redis
 * hash keyed by the problem and removed by its recovery. One record holds both
 * what people ask ("what is wrong now, and under which number": RPC
 * `alerts.list` and `alert.ack`, without scanning the bounded alert log) and
 * what re-notification needs (the alert it repeats, how many reminders were
 * sent, whether the problem is acknowledged); the schedule of reminders
 * (src/monitor/alerts/renotify.ts) refers to the same fields. The record format is
 * described with the scripts in src/monitor/scripts.ts.
 *
 * The AlertCenter records every dispatched alert, suppressed ones included (a
 * silenced host that is down is still a problem, and is reminded of once the
 * silence is over).
 */
import { defineScripts, type Keys, type Redis } from "../../store/index.js";
import { ACKNOWLEDGE_PROBLEMS, RECORD_PROBLEM, UNACKNOWLEDGE_PROBLEMS } from "../scripts.js";
import { type AlertRecord, isRecovery } from "./record.js";

export interface OpenProblem {
  /** `<jid>|<kind>|<check>`: flapping counts as its check's problem. */
  key: string;
  /** The problem's latest alert (with its number, `num`). */
  alert: AlertRecord;
  /** When the first alert of this problem was raised (ms). */
  since: number;
  /** Reminders are off: an acknowledgement covered the problem. */
  acknowledged: boolean;
  /** Reminders sent since its latest first notification. */
  reminders: number;
}

/** A problem's identity: what a later alert of the same problem (or its recovery) shares. */
export function problemKey(alert: Pick<AlertRecord, "jid" | "kind" | "check">): string {
  const kind = alert.kind === "flapping" ? "check" : alert.kind;
  const check = kind === "host" || kind === "score" ? "" : alert.check;
  return `${alert.jid.toLowerCase()}|${kind}|${check}`;
}

/**
 * The problems an acknowledgement of `check` (empty for the host itself)
 * covers: those whose ackTarget() it is.
 */
export function acknowledgedProblemKeys(jid: string, check: string): string[] {
  const kinds =
    check === ""
      ? (["host", "score", "nagios"] as const)
      : (["check", "backup", "nagios"] as const);
  return kinds.map((kind) => problemKey({ jid, kind, check }));
}

/** Problems of these kinds are re-notified; flapping and Nagios (it re-notifies itself) are not. */
const RENOTIFIED_KINDS = new Set(["host", "check", "score", "backup"]);

/** How the dispatch of an alert turned out, as far as its problem is concerned. */
export interface DispatchOutcome {
  /** An acknowledgement covers the alert's problem. */
  acknowledged: boolean;
  /** A reminder whose problem is no longer current in the status database. */
  resolved?: boolean;
}

/** What an alert changes for its problem's reminders (see recordProblem-2). */
type ReminderChange = "close" | "acknowledge" | "renotify" | "keep";

function reminderChange(alert: AlertRecord, outcome: DispatchOutcome): ReminderChange {
  if (isRecovery(alert) || outcome.resolved) return "close";
  if (outcome.acknowledged) return "acknowledge";
  // A reminder must not restart its own count.
  if (alert.renotify || !RENOTIFIED_KINDS.has(alert.kind)) return "keep";
  return "renotify";
}

type ScriptedRedis = Redis & {
  recordProblem(hash: string, schedule: string, ...argv: string[]): Promise<number>;
  acknowledgeProblems(hash: string, schedule: string, ...fields: string[]): Promise<number>;
  unacknowledgeProblems(hash: string, schedule: string, ...argv: string[]): Promise<number>;
};

export interface ProblemIndexOptions {
  redis: Redis;
  keys: Keys;
  /** Re-notify an unacknowledged problem this often (ms); 0 schedules nothing. */
  renotifyMs: number;
}

export class ProblemIndex {
  readonly #redis: ScriptedRedis;
  readonly #keys: Keys;
  readonly #renotifyMs: number;

  constructor({ redis, keys, renotifyMs }: ProblemIndexOptions) {
    this.#redis = defineScripts<ScriptedRedis>(redis, {
      recordProblem: RECORD_PROBLEM,
      acknowledgeProblems: ACKNOWLEDGE_PROBLEMS,
      unacknowledgeProblems: UNACKNOWLEDGE_PROBLEMS,
    });
    this.#keys = keys;
    this.#renotifyMs = renotifyMs;
  }

  /**
   * Record a dispatched alert in its problem: a recovery (or a reminder found
   * resolved) closes it, anything else becomes its latest alert. A first
   * notification that is not acknowledged (re)starts its reminders, one
   * interval from now. One script call, so the latest alert, the reminder
   * state and the schedule never disagree.
   */
  record(alert: AlertRecord, outcome: DispatchOutcome): Promise<number> {
    const change = reminderChange(alert, outcome);
    const due = change === "renotify" && this.#renotifyMs > 0 ? Date.now() + this.#renotifyMs : "";
    return this.#redis.recordProblem(
      this.#keys.openProblems(),
      this.#keys.renotifySchedule(),
      problemKey(alert),
      change === "close" ? "" : JSON.stringify(alert),
      String(Math.trunc(alert.time) || Date.now()),
      change,
      String(due),
    );
  }

  /** An acknowledgement of a host (check "") or a check: its problems stay open, without reminders. */
  acknowledge(jid: string, check: string): Promise<number> {
    return this.#redis.acknowledgeProblems(
      this.#keys.openProblems(),
      this.#keys.renotifySchedule(),
      ...acknowledgedProblemKeys(jid, check),
    );
  }

  /** An acknowledgement withdrawn: the problems it covered are reminded of again. */
  unacknowledge(jid: string, check: string): Promise<number> {
    const due = this.#renotifyMs > 0 ? String(Date.now() + this.#renotifyMs) : "";
    return this.#redis.unacknowledgeProblems(
      this.#keys.openProblems(),
      this.#keys.renotifySchedule(),
      due,
      [...RENOTIFIED_KINDS].join(","),
      ...acknowledgedProblemKeys(jid, check),
    );
  }

  async list(): Promise<OpenProblem[]> {
    const all = await this.#redis.hgetall(this.#keys.openProblems());
    const problems: OpenProblem[] = [];
    for (const [key, raw] of Object.entries(all)) {
      const problem = parseProblem(key, raw);
      if (problem) problems.push(problem);
    }
    return problems;
  }

  /** Forget a problem and its reminders (e.g. a host removed from the fleet). */
  async forget(key: string): Promise<boolean> {
    const removed = await this.#redis.recordProblem(
      this.#keys.openProblems(),
      this.#keys.renotifySchedule(),
      key,
      "",
      "0",
      "close",
      "",
    );
    return removed === 1;
  }
}

interface StoredProblem {
  since: number;
  alert: AlertRecord;
  count?: number;
  acknowledged?: boolean;
}

function parseProblem(key: string, raw: string): OpenProblem | undefined {
  try {
    const stored = JSON.parse(raw) as StoredProblem;
    if (typeof stored.alert !== "object" || stored.alert === null) return undefined;
    return {
      key,
      alert: stored.alert,
      since: Number(stored.since),
      acknowledged: stored.acknowledged === true,
      reminders: Number(stored.count ?? 0),
    };
  } catch {
    // A value this code did not write: skip it rather than fail the list.
    return undefined;
  }
}
