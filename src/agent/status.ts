/**
 * The agent's first-cut status: load per CPU and root file system use, read
 * straight from the kernel (no child processes, no libraries).
 */
import { statfs } from "node:fs/promises";
import { availableParallelism, hostname, loadavg } from "node:os";
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

export function loadFinding(): Finding {
  const perCpu = (loadavg()[0] ?? 0) / availableParallelism();
  const text = `load ${(loadavg()[0] ?? 0).toFixed(1)}`;
  if (perCpu >= 4) return { state: "critical", text };
  if (perCpu >= 2) return { state: "warning", text };
  return { state: "ok", text };
}

export async function diskFinding(mount: string): Promise<Finding> {
  try {
    const fs = await statfs(mount);
    const used = 1 - fs.bavail / fs.blocks;
    const text = `disk ${mount} ${Math.round(used * 100)}%`;
    if (used >= 0.95) return { state: "critical", text };
    if (used >= 0.9) return { state: "warning", text };
    return { state: "ok", text };
  } catch (err) {
    return {
      state: "unknown",
      text: `disk ${mount}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
    };
  }
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

export async function currentStatus(host = hostname()): Promise<AgentStatus> {
  return summarise([loadFinding(), await diskFinding("/")], host);
}
