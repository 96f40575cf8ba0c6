/**
 * The agent's status summary: the worst state of its findings, in words a
 * person reads at a glance ("2 checks failing: disk /var 96%, load 9.1").
 */
import type { AgentStatus, HostState } from "../protocol/index.js";
import { VERSION } from "../version.js";

export interface Finding {
  state: HostState;
  text: string;
}

const RANK: Record<HostState, number> = { ok: 0, unknown: 1, warning: 2, critical: 3 };

export function worstState(states: HostState[]): HostState {
  return states.reduce<HostState>((worst, s) => (RANK[s] > RANK[worst] ? s : worst), "ok");
}

/** Summarise findings in words a person reads at a glance, worst first. */
export function summarise(findings: Finding[], host: string): AgentStatus {
  const failing = findings
    .filter((f) => f.state !== "ok")
    .sort((a, b) => RANK[b.state] - RANK[a.state]);
  const state = worstState(findings.map((f) => f.state));
  const summary =
    failing.length === 0
      ? `all ${findings.length} checks ok`
      : `${failing.length} check${failing.length === 1 ? "" : "s"} failing: ${failing.map((f) => f.text).join(", ")}`;
  return {
    host,
    version: VERSION,
    state,
    summary,
    checks: findings.length,
    failing: failing.length,
  };
}
