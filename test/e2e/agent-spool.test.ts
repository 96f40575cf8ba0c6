/**
 * Disconnected operation, end to end: results made while ejabberd is down, or
 * across an agent restart (SIGTERM and SIGKILL), all arrive, in order, once.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Element } from "../../src/xmpp/index.js";
import { sendRange, socketUp } from "../helpers/agent-socket.js";
import { type PublishSink, startPublishSink } from "../helpers/sink.js";
import { type Account, useStack } from "../helpers/stack.js";
import { sleep } from "../helpers/wait.js";

const stack = useStack("agent-spool");
let sink: PublishSink;

beforeAll(async () => {
  sink = await startPublishSink(stack);
});
afterAll(async () => {
  await sink?.stop();
});

async function agentFor(account: Account): Promise<{ start(): ChildProcess; socket: string }> {
  const dir = stack.agentDir(account);
  const config = join(dir, "agent.yml");
  const { mkdir } = await import("node:fs/promises");
  await mkdir(dir, { recursive: true });
  await writeFile(
    config,
    "checks: []\nxmpp: { reconnectMaxDelayMs: 1000 }\npublish: { timeoutMs: 3000 }\n",
  );
  const env = stack.agentEnv(account);
  return {
    socket: env.JABMON_AGENT_SOCKET as string,
    start: () => stack.spawnCli(["agent", "-c", config], env),
  };
}

/** The n of each numbered result (n=1..300), in stored order; the n=0 probes left out. */
function numberedFrom(items: Element[]): number[] {
  return items
    .map((e) => /^n=(\d+)$/.exec(e.getChildText("text") ?? "")?.[1])
    .map(Number)
    .filter((n) => n > 0);
}

/** The 300 numbered messages arrived in order, each once, with increasing seqs. */
async function expectAll300(account: Account, timeoutMs: number) {
  const items = await sink.waitForItems(
    account.jid,
    // Count n>0 only: each agent start adds one n=0 probe (socketUp), so a
    // count of every "n=" item would be satisfied before the last results arrive.
    (items) => numberedFrom(items).length >= 300,
    timeoutMs,
    "all 300 results",
  );
  const ns = numberedFrom(items);
  expect(ns).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  const seqs = items.map((e) => Number(e.attrs.seq));
  expect(new Set(seqs).size).toBe(seqs.length);
  expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  return items;
}

describe("an agent whose server goes away", () => {
  it("delivers all 300 results made before, during and after a 30 s ejabberd outage, in order, once", async () => {
    const account = await stack.account("outage");
    const agent = await agentFor(account);
    agent.start();
    await socketUp(agent.socket);
    await sendRange(agent.socket, 1, 100);
    const stopped = stack.ejabberd.stop();
    await sendRange(agent.socket, 101, 150, 100);
    await stopped;
    const downAt = Date.now();
    await sendRange(agent.socket, 151, 250, 250);
    await sleep(Math.max(0, 30_000 - (Date.now() - downAt)));
    await stack.ejabberd.start();
    await sendRange(agent.socket, 251, 300);
    await expectAll300(account, 90_000);
  }, 180_000);
});

describe("an agent that restarts", () => {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    it(`keeps its spool and sequence across ${signal}, while publishing and while offline`, async () => {
      const account = await stack.account(`restart-${signal.toLowerCase()}`);
      const agent = await agentFor(account);
      let child = agent.start();
      await socketUp(agent.socket);
      // Killed while publishing: some results are spooled but not yet acknowledged.
      const first = await sendRange(agent.socket, 1, 100);
      child.kill(signal);
      await once(child, "exit");
      child = agent.start();
      await socketUp(agent.socket);
      // And killed while the server is down: everything is only in the spool.
      const stopped = stack.ejabberd.stop();
      const second = await sendRange(agent.socket, 101, 200);
      await stopped;
      const third = await sendRange(agent.socket, 201, 250);
      child.kill(signal);
      await once(child, "exit");
      child = agent.start();
      await socketUp(agent.socket);
      const fourth = await sendRange(agent.socket, 251, 300);
      await stack.ejabberd.start();
      const all = [...first, ...second, ...third, ...fourth];
      expect(new Set(all).size).toBe(300);
      await expectAll300(account, 90_000);
    }, 180_000);
  }
});
