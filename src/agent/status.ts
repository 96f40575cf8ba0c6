/**
 * The agent's status summary: the worst state of its findings, in words a
 * person reads at a glance ("2 of 5 checks failing (1 critical, 1 warning): disk /var 96%, load 9.1").
 */
import { type AgentStatus, describeChecks, type HostState } from "../protocol/index.js";
import { VERSION } from "../version.js";

export interface Finding {
  state: HostState;
  text: string;
}

const RANK: Record<HostState, number> = { ok: 0, unknown: 1, warning: 2, critical: 3 };

export function worstState(states: HostState[]): HostState {
  return states.reduce<HostState>((worst, s) => (RANK[s] > RANK[worst] ? s : worst), "ok");
}

/**
 * Summarise findings in words a person reads at a glance, worst first, with
 * the monitor's wording (src/protocol/host-status.ts): "1 of 3 checks
 * critical: webcheck". Findings include passive results relayed through the
 * socket, so the presence agrees with what the monitor stores.
 */
export function summarise(findings: Finding[], host: string): AgentStatus {
  const failing = findings
    .filter((f) => f.state !== "ok")
    .sort((a, b) => RANK[b.state] - RANK[a.state]);
  const state = worstState(findings.map((f) => f.state));
  const count = (s: HostState) => failing.filter((f) => f.state === s).length;
  const summary = describeChecks({
    count: findings.length,
    critical: count("critical"),
    warning: count("warning"),
    unknown: count("unknown"),
    failing: failing.map((f) => f.text),
  });
  return {
    host,
    version: VERSION,
    state,
    summary,
    checks: findings.length,
    failing: failing.length,
  };
}
