#!/usr/bin/env node
/**
 * bench:fuzz — 10,000 hostile stanzas at the component through a real
 * ejabberd c2s session (bench/fuzz/harness.mjs; docs/security.md "Hostile
 * input"), an honest agent publishing meanwhile. Writes bench/results/fuzz.json.
 *
 * Knobs: BENCH_FUZZ_COUNT=10000, BENCH_FUZZ_SEED=42, BENCH_FUZZ_WINDOW=16 (IQs in
 * flight), BENCH_FUZZ_HONEST_MS=600 (the honest agent's interval), BENCH_OUT=fuzz. Run with --expose-gc (the npm script does) so the
 * heap figures are measured after a full GC.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FuzzStack, runFuzz } from "./fuzz/harness.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const say = (line) => process.stderr.write(`bench:fuzz ${line}\n`);
const count = Number(process.env.BENCH_FUZZ_COUNT ?? 10_000);
const seed = Number(process.env.BENCH_FUZZ_SEED ?? 42);
const window = Number(process.env.BENCH_FUZZ_WINDOW ?? 16);
// The honest agent publishes at most 450 results (the monitor keeps 500 events
// per host): one every 600 ms spans a 10,000-stanza run.
const honestEveryMs = Number(process.env.BENCH_FUZZ_HONEST_MS ?? 600);

const stack = await FuzzStack.start({ logLevel: process.env.BENCH_FUZZ_LOG });
let crashes = 0;
process.on("uncaughtException", (err) => {
  crashes++;
  say(`uncaught exception: ${err.stack}`);
});
const started = Date.now();
try {
  const { figures, problems } = await runFuzz(stack, { count, seed, window, honestEveryMs, say });
  figures.crashes = crashes;
  figures.seed = seed;
  figures.seconds = Math.round((Date.now() - started) / 100) / 10;
  figures.problems = problems.slice(0, 50);
  const out = join(root, "bench", "results", `${process.env.BENCH_OUT ?? "fuzz"}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(figures, null, 2)}\n`);
  say(`wrote ${out}`);
  say(JSON.stringify({ ...figures, problems: problems.length, families: undefined }));
} finally {
  await stack.destroy();
}
process.exit(0);
