/**
 * A host reinstalled under the same JID (its spool gone) must be heard: the
 * service takes a seq it has already passed for a replay, so a new agent must
 * not count from 1 again.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendRange, socketUp } from "../helpers/agent-socket.js";
import { publishStraySeq } from "../helpers/pubsub.js";
import { type PublishSink, startPublishSink } from "../helpers/sink.js";
import { useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const stack = useStack("agent-reinstall");
let sink: PublishSink;

beforeAll(async () => {
  sink = await startPublishSink(stack);
});
afterAll(async () => {
  await sink?.stop();
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

  it("re-seeds above the node's highest when its seqs are refused as regressed, and loses none", async () => {
    const account = await stack.account("stray");
    // Once, a seq far in the future (a clock wildly ahead): the agent's are far below it.
    const stray = await publishStraySeq(stack, account);

    stack.spawnAgent(account);
    const socket = join(stack.agentDir(account), "agent.sock");
    await socketUp(socket);
    // Results keep coming while the first refusals are answered and re-seeded.
    await sendRange(socket, 1, 40, 5);
    const numbered = (items: ReturnType<typeof sink.items>) =>
      items.filter((e) => /^n=\d+$/.test(e.getChildText("text") ?? ""));
    const items = await sink.waitForItems(
      account.jid,
      (all) => numbered(all).length >= 41,
      20_000,
      "every result of the agent stored after re-seeding",
    );
    // n=0 is socketUp's probe; each result once, in order, every one above the stray seq.
    expect(numbered(items).map((e) => e.getChildText("text"))).toEqual(
      Array.from({ length: 41 }, (_, n) => `n=${n}`),
    );
    for (const e of numbered(items)) expect(Number(e.attrs.seq)).toBeGreaterThan(stray);
    expect((await sink.counters(account.jid)).agentSeq).toBeGreaterThan(stray);
  });
});
