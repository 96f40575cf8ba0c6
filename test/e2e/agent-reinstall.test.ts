/**
 * A host reinstalled under the same JID (its spool gone) must be heard: the
 * service takes a seq it has already passed for a replay, so a new agent must
 * not count from 1 again.
 */
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PublishSink, startPublishSink } from "../helpers/sink.js";
import { TestStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

let stack: TestStack;
let sink: PublishSink;

beforeAll(async () => {
  stack = await TestStack.start("agent-reinstall");
  sink = await startPublishSink(stack);
});
afterAll(async () => {
  await sink?.stop();
  await stack?.cleanup();
});

/** Record `count` events through the agent's socket, one request after the other. */
async function sendEvents(socketPath: string, count: number): Promise<void> {
  const socket = await waitFor(
    async () => {
      const s = connect(socketPath);
      try {
        await once(s, "connect");
        return s;
      } catch {
        return undefined;
      }
    },
    { timeoutMs: 15_000, what: "the agent's socket" },
  );
  socket.setEncoding("utf8");
  let buffer = "";
  for (let n = 1; n <= count; n++) {
    socket.write(`${JSON.stringify({ op: "send", text: `n=${n}` })}\n`);
    while (!buffer.includes("\n")) buffer += (await once(socket, "data"))[0] as string;
    expect(JSON.parse(buffer.slice(0, buffer.indexOf("\n"))).ok).toBe(true);
    buffer = buffer.slice(buffer.indexOf("\n") + 1);
  }
  socket.destroy();
}

describe("a host reinstalled under the same JID", () => {
  it("has its new results stored, not acknowledged and ignored as replays", async () => {
    const account = await stack.account("reimaged");
    const spoolDir = join(stack.agentDir(account), "spool");
    const first = stack.spawnAgent(account);
    // A history longer than what the new install makes in the test's time: an
    // agent counting from 1 again would be ignored all along.
    await sendEvents(join(stack.agentDir(account), "agent.sock"), 200);
    await waitFor(async () => (await sink.counters(account.jid)).seq >= 200, {
      timeoutMs: 15_000,
      what: "results of the first install",
    });
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    const before = await sink.counters(account.jid);

    // Reinstall: same account, no spool.
    await rm(spoolDir, { recursive: true, force: true });
    stack.spawnAgent(account);
    const after = await waitFor(
      async () => {
        const now = await sink.counters(account.jid);
        return now.seq >= before.seq + 2 ? now : undefined;
      },
      { timeoutMs: 15_000, what: "results of the reinstalled agent stored" },
    );
    expect(after.agentSeq).toBeGreaterThan(before.agentSeq);
  });
});
