/**
 * A host reinstalled under the same JID (its spool gone) must be heard: the
 * service takes a seq it has already passed for a replay, so a new agent must
 * not count from 1 again.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendRange, socketUp } from "../helpers/agent-socket.js";
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

describe("a host reinstalled under the same JID", () => {
  it("has its new results stored, not acknowledged and ignored as replays", async () => {
    const account = await stack.account("reimaged");
    const spoolDir = join(stack.agentDir(account), "spool");
    const first = stack.spawnAgent(account);
    // A history longer than what the new install makes in the test's time: an
    // agent counting from 1 again would be ignored all along.
    const socket = join(stack.agentDir(account), "agent.sock");
    await socketUp(socket);
    await sendRange(socket, 1, 200);
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
