/**
 * The CI subset of bench:faults (docs/reliability.md): a small fleet of real
 * agents publishing through each fault; every result an agent was told was
 * accepted is applied by the monitor exactly once, in the agent's order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: the harness is plain JavaScript shared with the benchmark.
import { FaultStack } from "../../bench/faults/harness.mjs";
// @ts-expect-error: the harness is plain JavaScript shared with the benchmark.
import { runScenario } from "../../bench/faults/scenarios.mjs";

interface Figures {
  accepted: number;
  applied: number;
  lost: number;
  doubled: number;
  reordered: number;
  all_drained: boolean;
  [key: string]: number | boolean;
}

const options = { everyMs: 500, phaseMs: 3000, offlineResults: 100, staleMs: 6000 };
let stack: { destroy(): Promise<void> };

beforeAll(async () => {
  stack = await FaultStack.start({ agents: 10, staleMs: options.staleMs });
}, 120_000);
afterAll(async () => {
  await stack?.destroy();
}, 60_000);

const run = (name: string): Promise<Figures> => runScenario(stack, name, options);

function expectNothingLostOrDoubled(figures: Figures) {
  expect(figures.accepted).toBeGreaterThan(0);
  expect(figures.all_drained).toBe(true);
  expect({ lost: figures.lost, doubled: figures.doubled, reordered: figures.reordered }).toEqual({
    lost: 0,
    doubled: 0,
    reordered: 0,
  });
  expect(figures.applied).toBe(figures.accepted);
}

describe("faults under load", { timeout: 240_000 }, () => {
  it("loses and doubles nothing when the component is killed with SIGKILL and restarted", async () => {
    expectNothingLostOrDoubled(await run("component-kill"));
  });

  it("loses and doubles nothing when Redis is killed with SIGKILL and restarts from its AOF", async () => {
    expectNothingLostOrDoubled(await run("redis-kill"));
  });

  it("loses and doubles nothing across an ejabberd restart (every session drops at once)", async () => {
    expectNothingLostOrDoubled(await run("ejabberd-restart"));
  });

  it("replays, in order and once, what every agent spooled while offline", async () => {
    const figures = await run("agents-offline");
    expectNothingLostOrDoubled(figures);
    expect(figures.accepted).toBe(10 * options.offlineResults);
    // The backlog went several results per <results/> request, not one publish each.
    expect(figures.batch_requests).toBeGreaterThan(0);
    expect(figures.batch_requests).toBeLessThan(figures.accepted / 2);
  });

  it("marks a partitioned host stale within staleMs and takes it back cleanly when healed", async () => {
    const figures = await run("partition");
    expectNothingLostOrDoubled(figures);
    expect(figures.detect_stale_s).toBeLessThan((options.staleMs * 2) / 1000 + 5);
    expect(figures.back_online_s).toBeGreaterThanOrEqual(0);
  });

  it("keeps running on a full spool disk and loses nothing it had spooled", async () => {
    const figures = await run("disk-full");
    expectNothingLostOrDoubled(figures);
    expect(figures.refused_when_full).toBeGreaterThan(0);
  });

  // Last: it wipes the stack's Redis. Shows the checks above can fail.
  it("reports the loss when Redis restarts without persistence (the check is not vacuous)", async () => {
    const figures = await run("control-redis-without-aof");
    expect(figures.lost).toBeGreaterThan(0);
  });
});
