/**
 * Flap detection as Nagios does it ("Detection and Handling of State
 * Flapping", Nagios Core docs): keep a check's last 21 states, count the state
 * changes between consecutive results, weighting newer changes more (0.75 for
 * the oldest up to 1.25 for the newest), and express the sum as a percentage of
 * the 20 possible changes. A check starts flapping when the percentage reaches
 * the high threshold and stops when it drops below the low one (hysteresis).
 *
 * https://assets.nagios.com/downloads/nagioscore/docs/nagioscore/4/en/flapping.html
 */

export const FLAP_WINDOW = 21;
const LOW_WEIGHT = 0.75;
const HIGH_WEIGHT = 1.25;

export interface FlapThresholds {
  /** Percent at or above which a check starts flapping (Nagios default for services: 20). */
  high: number;
  /** Percent below which a flapping check stops flapping (Nagios default: 5). */
  low: number;
}

export const DEFAULT_FLAP_THRESHOLDS: FlapThresholds = { high: 20, low: 5 };

/**
 * Weighted percent state change over `states`, oldest first. Fewer than 21
 * states count as a window whose missing older part never changed (Nagios
 * fills a new history with the first state), so a new check is not flapping.
 */
export function percentStateChange(states: readonly string[]): number {
  const window = states.slice(-FLAP_WINDOW);
  const offset = FLAP_WINDOW - window.length;
  let changes = 0;
  for (let i = 1; i < window.length; i++) {
    if (window[i] === window[i - 1]) continue;
    // Position x of this result in a full window, 1..20; x-1 is 0 for the oldest change.
    const x = i + offset;
    changes += ((x - 1) * (HIGH_WEIGHT - LOW_WEIGHT)) / (FLAP_WINDOW - 2) + LOW_WEIGHT;
  }
  return (changes * 100) / (FLAP_WINDOW - 1);
}

/** Whether a check is flapping now, given whether it was before (hysteresis). */
export function isFlapping(
  percent: number,
  wasFlapping: boolean,
  thresholds: FlapThresholds = DEFAULT_FLAP_THRESHOLDS,
): boolean {
  return wasFlapping ? percent >= thresholds.low : percent >= thresholds.high;
}
