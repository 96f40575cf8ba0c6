#!/usr/bin/env node
/**
 * bench:faults — the fault-injection suite of docs/reliability.md: a fleet of
 * real agents publishing while the harness kills and restarts the parts of
 * the system, then checks agent by agent that every result an agent was told
 * was accepted was applied by the monitor exactly once and in order.
 *
 * Knobs: BENCH_AGENTS=200 (sessions), BENCH_EVERY_MS=1000 (one result per
 * agent per interval while a scenario runs), BENCH_PHASE_MS=8000 (publishing
 * before and after each fault), BENCH_OFFLINE_RESULTS=180 (results each agent
 * spools while offline: 36,000 over 200 agents), BENCH_STALE_MS=20000,
 * BENCH_NODES=1 (ejabberd nodes, clustered), BENCH_COMPONENTS=1 (component
 * processes; with 2+ nodes and 2+ components the scale-out scenarios run too),
 * BENCH_SCENARIOS=comma list, BENCH_OUT=faults (the results file's name).
 * Writes bench/results/$BENCH_OUT.json (flat keys).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FaultStack } from "./faults/harness.mjs";
import { SCENARIOS, runScenario } from "./faults/scenarios.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const say = (line) => process.stderr.write(`bench:faults ${line}\n`);

const options = {
  agents: Number(process.env.BENCH_AGENTS ?? 200),
  everyMs: Number(process.env.BENCH_EVERY_MS ?? 1000),
  phaseMs: Number(process.env.BENCH_PHASE_MS ?? 8000),
  offlineResults: Number(process.env.BENCH_OFFLINE_RESULTS ?? 180),
  staleMs: Number(process.env.BENCH_STALE_MS ?? 20_000),
  nodes: Number(process.env.BENCH_NODES ?? 1),
  components: Number(process.env.BENCH_COMPONENTS ?? 1),
};
const NEEDS_SCALE_OUT = new Set(["component-failover", "node-stop"]);
const wanted = (
  process.env.BENCH_SCENARIOS ??
  Object.keys(SCENARIOS)
    .filter((name) => !name.startsWith("control-"))
    .filter((name) => !NEEDS_SCALE_OUT.has(name) || (options.nodes > 1 && options.components > 1))
    .join(",")
).split(",");

const result = {
  agents: options.agents,
  results_per_agent_per_s: 1000 / options.everyMs,
  redis_appendfsync: "everysec",
  ejabberd_nodes: options.nodes,
  component_processes: options.components,
};
const started = Date.now();
const stack = await FaultStack.start({ ...options, say });
say(`${options.agents} agents online after ${((Date.now() - started) / 1000).toFixed(1)} s`);
try {
  for (const name of wanted) {
    say(`scenario ${name}…`);
    const figures = await runScenario(stack, name, options);
    say(`scenario ${name}: ${JSON.stringify(figures)}`);
    for (const [key, value] of Object.entries(figures)) result[`${name.replaceAll("-", "_")}_${key}`] = value;
  }
  result.component_rss_mb_at_end = Math.round(stack.componentRssMb());
} finally {
  await stack.destroy();
}
result.lost_total = Object.entries(result)
  .filter(([k]) => k.endsWith("_lost"))
  .reduce((sum, [, v]) => sum + v, 0);
result.doubled_total = Object.entries(result)
  .filter(([k]) => k.endsWith("_doubled"))
  .reduce((sum, [, v]) => sum + v, 0);
mkdirSync(join(root, "bench", "results"), { recursive: true });
const out = process.env.BENCH_OUT ?? "faults";
writeFileSync(join(root, "bench", "results", `${out}.json`), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
