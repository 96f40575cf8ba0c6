/**
 * Back-pressure on the monitor's backlog (src/pubsub/admission.ts): a front
 * whose results are not being processed refuses agents' results with a wait
 * resource-constraint once more than pubsub.maxIngestBacklog wait, and takes
 * them again when an ingest process has caught up. Nothing refused is lost:
 * the retry stores it.
 */
import { type Client, xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import { startRole } from "../../src/server/index.js";
import { check, errorOf, iq, publishIq, pubsub } from "../helpers/pubsub.js";
import { useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const stack = useStack("admission");
let client: Client;
let node: string;
let ingest: { stop(): Promise<void> } | undefined;

beforeAll(async () => {
  // The front only: no ingest shard is taken, so nothing is processed yet.
  await stack.startComponent({ role: "xmpp", pubsub: { maxIngestBacklog: 5 } });
  const account = await stack.account("adm-agent");
  node = `agents/${account.jid}`;
  client = await stack.client(account);
}, 60_000);

afterAll(async () => {
  await ingest?.stop();
});

const publish = (seq: number) => iq(client, stack.componentJid, "set", publishIq(node, check(seq)));

describe("back-pressure on the monitor's backlog", () => {
  it("tells agents to wait while the backlog is over the bound, and takes their results once it is processed", async () => {
    for (let seq = 1; seq <= 8; seq++) expect((await publish(seq)).attrs.type).toBe("result");
    // The backlog (8 > 5) is sampled every second: the next result is refused.
    const refused = await waitFor(
      async () => {
        const reply = await publish(9);
        return reply.attrs.type === "error" ? reply : undefined;
      },
      { timeoutMs: 10_000, what: "a refusal" },
    );
    expect(errorOf(refused)?.[0]).toBe("resource-constraint");
    expect(refused.getChild("error")?.attrs.type).toBe("wait");
    expect(refused.getChild("error")?.getChildText("text")).toMatch(/results behind/);

    // An ingest process takes the shards and catches up: the retry is stored.
    ingest = (await startRole(stack.componentConfig({ role: "ingest" }), silentLogger())) as {
      stop(): Promise<void>;
    };
    await waitFor(async () => ((await publish(9)).attrs.type === "result" ? true : undefined), {
      timeoutMs: 20_000,
      what: "the retry accepted",
    });
    // Every seq 1..9 is on the node once: the refusal lost nothing.
    const stored = await iq(client, stack.componentJid, "get", pubsub(xml("items", { node })));
    const seqs = stored
      .getChild("pubsub")
      ?.getChild("items")
      ?.getChildren("item")
      .map((i) => Number(i.getChildElements()[0]?.attrs.seq))
      .sort((a, b) => a - b);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }, 60_000);
});
