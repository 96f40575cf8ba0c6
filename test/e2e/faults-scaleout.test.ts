/**
 * Scale-out under faults (docs/deploy.md, "Scale-out and failover"): a
 * two-node ejabberd cluster with a component process attached to each node,
 * and a small fleet of real agents (each with both nodes in its server list)
 * publishing. Per agent, every accepted result is applied exactly once.
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
  all_drained: boolean;
  [key: string]: number | boolean;
}

const options = { everyMs: 500, phaseMs: 3000, offlineResults: 50, staleMs: 20_000 };
let stack: { destroy(): Promise<void> };

beforeAll(async () => {
  stack = await FaultStack.start({ agents: 12, nodes: 2, components: 2, staleMs: options.staleMs });
}, 180_000);
afterAll(async () => {
  await stack?.destroy();
}, 60_000);

const run = (name: string): Promise<Figures> => runScenario(stack, name, options);

function expectExactlyOnce(figures: Figures) {
  expect(figures.accepted).toBeGreaterThan(0);
  expect(figures.all_drained).toBe(true);
  expect({ lost: figures.lost, doubled: figures.doubled }).toEqual({ lost: 0, doubled: 0 });
  expect(figures.applied).toBe(figures.accepted);
}

describe("two ejabberd nodes, two components", { timeout: 240_000 }, () => {
  it("loses and doubles nothing when one component is killed with SIGKILL and stays dead; its shards move to the survivor within about 1.4 × leaseMs (4 s; 8 s allowed on a loaded CI machine)", async () => {
    const figures = await run("component-failover");
    expectExactlyOnce(figures);
    expect(figures.resume_s).toBeLessThan(8);
  });

  it("loses and doubles nothing when one ejabberd node stops: its agents move to the other", async () => {
    expectExactlyOnce(await run("node-stop"));
  });
});
