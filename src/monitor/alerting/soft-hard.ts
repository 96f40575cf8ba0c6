/**
 * Soft and hard check states (as Nagios/Icinga): a check that turns bad is
 * `soft` until it has been bad for `attempts` consecutive results, then
 * `hard`. Only a change of the hard state alerts, so a blip that clears on
 * the next retry wakes nobody. A recovery from a soft problem is no change of
 * the hard state (it stayed ok) and does not alert either.
 */

/** The label a check result carries to override the monitor's default attempts. */
export const ATTEMPTS_LABEL = "jabmon.attempts";
/** Upper bound of attempts: more would only hide a real problem for longer. */
export const MAX_ATTEMPTS = 100;

export type StateType = "soft" | "hard";

export interface SoftHardBefore {
  /** The check's last state (null for a new check). */
  state: string | null;
  /** The hard state before this result; absent on data written before soft/hard existed. */
  hardState: string | null;
  /** Consecutive bad results so far; absent on older data. */
  attempt: string | null;
}

export interface SoftHardAfter {
  attempt: number;
  attempts: number;
  stateType: StateType;
  hardState: string;
  /** The hard state before this result: what an alert's `previous` is. */
  previousHard: string;
  /** The hard state changed: this result alerts. */
  hardChanged: boolean;
}

/** The attempts of a check: its `jabmon.attempts` label if valid, else the default. */
export function checkAttempts(
  labels: Record<string, string> | undefined,
  defaultAttempts: number,
): number {
  const raw = labels?.[ATTEMPTS_LABEL];
  const n = raw === undefined ? Number.NaN : Number(raw);
  const attempts = Number.isInteger(n) && n >= 1 ? n : defaultAttempts;
  return Math.min(MAX_ATTEMPTS, Math.max(1, attempts));
}

export function nextSoftHard(
  before: SoftHardBefore,
  state: string,
  attempts: number,
): SoftHardAfter {
  const wasBad = before.state !== null && before.state !== "ok";
  // Data from before soft/hard: a bad check was alerted on, so it was hard.
  const previousHard = before.hardState ?? before.state ?? "ok";
  const previousAttempt =
    before.attempt !== null ? Number(before.attempt) || 0 : wasBad ? attempts : 0;
  if (state === "ok")
    return {
      attempt: 0,
      attempts,
      stateType: "hard",
      hardState: "ok",
      previousHard,
      hardChanged: previousHard !== "ok",
    };
  const attempt = Math.min(attempts, (wasBad ? previousAttempt : 0) + 1);
  const hard = attempt >= attempts;
  const hardState = hard ? state : previousHard;
  return {
    attempt,
    attempts,
    stateType: hard ? "hard" : "soft",
    hardState,
    previousHard,
    hardChanged: hardState !== previousHard,
  };
}
