/**
 * The status model (docs/monitor.md, "Host status"): one pure function that
 * derives a host's state from everything known about it. Every view (the
 * overview, /api/summary, /api/hosts?state=, /metrics, the RPC and AdminBot
 * answers, the host page) reads a host record built by `toRecord`, which
 * calls this, so they cannot disagree.
 */
import type { HostState } from "./presence.js";

export type DerivedState = HostState | "down";

/** Worst first, as the overview groups hosts. */
export const STATE_ORDER = ["down", "critical", "warning", "unknown", "ok"] as const;

/** Badness of a check or host state: higher is worse (unknown is better than warning, as Nagios). */
const RANK: Record<string, number> = { ok: 0, unknown: 1, warning: 2, critical: 3, down: 4 };

export const rankOf = (state: string | undefined): number => RANK[state ?? "unknown"] ?? 1;

/** The worse of two states; an unrecognised state counts as unknown. */
export function worseState(a: DerivedState, b: string | undefined): DerivedState {
  if (b === undefined || b === "") return a;
  const known = (b in RANK ? b : "unknown") as DerivedState;
  return rankOf(known) > rankOf(a) ? known : a;
}

/**
 * The monitor's current check results of one host, kept in the host hash by
 * the commit that stores a result (every source: scheduled by the agent,
 * passive via the socket, `jabmon notify`, Nagios passive, modules).
 */
export interface CheckTally {
  count: number;
  critical: number;
  warning: number;
  unknown: number;
  /** Names of the checks that are not ok, worst first (at most a few). */
  failing: string[];
}

export interface HostStatusInput {
  online: boolean;
  /** Why the host is offline ("stale" for a silent host; "" when online). */
  offlineReason?: string | undefined;
  /** What the agent's presence says (its own findings, maybe not processed yet). */
  presenceState?: string | undefined;
  /** The monitor's stored check results; undefined before the first result. */
  checks?: CheckTally | undefined;
  /** The state the badness score maps to (thresholds); undefined before the first scoring. */
  scoreState?: string | undefined;
  score?: number | undefined;
}

export interface HostStatus {
  state: DerivedState;
  /** What decided the state, in words ("1 of 3 checks critical: webcheck"). */
  summary: string;
  /** Which input decided it: the connection, the checks, the score or the agent's presence. */
  cause: "connection" | "checks" | "score" | "presence" | "none";
}

const failingCount = (t: CheckTally) => t.critical + t.warning + t.unknown;

function worstCheck(t: CheckTally): HostState {
  if (t.critical > 0) return "critical";
  if (t.warning > 0) return "warning";
  if (t.unknown > 0) return "unknown";
  return "ok";
}

/** "1 of 3 checks critical: webcheck", "2 of 5 checks failing (1 critical, 1 warning): a, b". */
export function describeChecks(t: CheckTally): string {
  const failing = failingCount(t);
  const noun = t.count === 1 ? "check" : "checks";
  if (failing === 0) return t.count === 0 ? "no checks" : `all ${t.count} ${noun} ok`;
  const kinds = (["critical", "warning", "unknown"] as const).filter((k) => t[k] > 0);
  const what =
    kinds.length === 1
      ? (kinds[0] as string)
      : `failing (${kinds.map((k) => `${t[k]} ${k}`).join(", ")})`;
  const names = t.failing.length > 0 ? `: ${t.failing.join(", ")}` : "";
  const more = failing > t.failing.length && t.failing.length > 0 ? ", …" : "";
  return `${failing} of ${t.count} ${noun} ${what}${names}${more}`;
}

/**
 * A host's state:
 * 1. offline (an unavailable presence, or silent for `staleMs`) → down;
 * 2. else the worst of: the worst current check result, the score's state
 *    (thresholds), and the state the agent's presence reports;
 * 3. with none of those known → unknown.
 * A tie is explained by the checks first (they name what is wrong), then the
 * score, then the presence.
 */
export function deriveHostStatus(input: HostStatusInput): HostStatus {
  if (!input.online) {
    const reason = input.offlineReason || "offline";
    return { state: "down", summary: `down: ${reason}`, cause: "connection" };
  }
  const candidates: Array<{ state: HostState; cause: HostStatus["cause"]; summary: string }> = [];
  if (input.checks && input.checks.count > 0)
    candidates.push({
      state: worstCheck(input.checks),
      cause: "checks",
      summary: describeChecks(input.checks),
    });
  if (input.scoreState)
    candidates.push({
      state: worseState("ok", input.scoreState) as HostState,
      cause: "score",
      summary: `badness score ${input.score ?? "?"} is ${input.scoreState}`,
    });
  if (input.presenceState)
    candidates.push({
      state: worseState("ok", input.presenceState) as HostState,
      cause: "presence",
      summary: `the agent reports ${input.presenceState}`,
    });
  if (candidates.length === 0) return { state: "unknown", summary: "no data yet", cause: "none" };
  let decided = candidates[0] as (typeof candidates)[number];
  for (const c of candidates.slice(1)) if (rankOf(c.state) > rankOf(decided.state)) decided = c;
  // All ok: the checks' words ("all 3 checks ok") say more than "score 0 is ok".
  if (decided.state === "ok") {
    const checks = candidates.find((c) => c.cause === "checks");
    return { state: "ok", summary: checks?.summary ?? "ok", cause: checks ? "checks" : "none" };
  }
  return { state: decided.state, summary: decided.summary, cause: decided.cause };
}

/** The tally as stored in the host hash (fields checkCount, checkCritical, ... checkFailing JSON). */
export function tallyFromHash(hash: Record<string, string>): CheckTally | undefined {
  if (hash.checkCount === undefined) return undefined;
  let failing: string[] = [];
  try {
    const parsed = JSON.parse(hash.checkFailing ?? "[]") as unknown;
    if (Array.isArray(parsed)) failing = parsed.map(String);
  } catch {}
  return {
    count: Number(hash.checkCount) || 0,
    critical: Number(hash.checkCritical) || 0,
    warning: Number(hash.checkWarning) || 0,
    unknown: Number(hash.checkUnknown) || 0,
    failing,
  };
}
