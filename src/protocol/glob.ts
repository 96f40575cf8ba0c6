/**
 * Glob matching (`*` any run, `?` one character; anchored, case-insensitive)
 * for host and check patterns that viewers send (hosts.list, silences, the
 * AdminBot). A translation to a RegExp backtracks exponentially on patterns
 * like `*a*a*a*a*a*a*a*a*b` (issue 18: eight stars on a 60-character name did
 * not finish in 120 s), so this is the classic two-pointer matcher: on a
 * mismatch it only moves the last `*` on by one, never revisiting earlier
 * stars, which bounds the work by pattern length × value length.
 */

/** Counts the comparison steps of a match, for tests that prove the bound. */
export interface GlobSteps {
  steps: number;
}

export function globMatch(pattern: string, value: string, counter?: GlobSteps): boolean {
  const p = pattern.toLowerCase();
  const v = value.toLowerCase();
  let pi = 0;
  let vi = 0;
  let star = -1; // index in p of the last `*` seen
  let resume = 0; // index in v where that `*` is tried next
  let steps = 0;
  while (vi < v.length) {
    steps++;
    const c = p[pi];
    if (c === "*") {
      star = pi++;
      resume = vi;
    } else if (c !== undefined && (c === "?" || c === v[vi])) {
      pi++;
      vi++;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++resume;
    } else {
      if (counter) counter.steps += steps;
      return false;
    }
  }
  while (p[pi] === "*") pi++;
  if (counter) counter.steps += steps;
  return pi === p.length;
}

/** A matcher for one pattern, e.g. to filter many hosts. */
export function globMatcher(pattern: string): (value: string) => boolean {
  return (value) => globMatch(pattern, value);
}
