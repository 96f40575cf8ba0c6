/**
 * Publishing to the XEP-0060 service (§7.1): agent nodes created by their
 * agent's first result, idempotent replays, sequence order, publish-options
 * preconditions, and the errors of malformed requests; plain xmpp.js clients
 * through a real ejabberd, state checked in the real Redis.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import { describe, expect, it } from "vitest";
import { decodeIngestEntry } from "../../src/monitor/ingest/consumer.js";
import { PUBSUB_ERRORS } from "../../src/pubsub/index.js";
import { ingestShard } from "../../src/store/index.js";
import {
  check,
  collectEvents,
  errorOf,
  eventItems,
  form,
  NS_OWNER,
  owner,
  publishIq,
  pubsub,
  type Xml,
} from "../helpers/pubsub.js";
import {
  CONFIG,
  component,
  createNode,
  get,
  keys,
  redis,
  set,
  stack,
  startPubsubSuite,
  storedCount,
  subscribe,
  user,
} from "../helpers/pubsub-suite.js";
import { sleep, waitFor } from "../helpers/wait.js";

startPubsubSuite("pubsub-publish");

const PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";

async function ingestEntries(owner: string, node: string) {
  const entries = await redis.xrange(keys.ingest(ingestShard(owner)), "-", "+");
  return entries
    .map(([id, fields]) => decodeIngestEntry(id, fields))
    .filter((e) => e.node === node);
}

describe("agent nodes", () => {
  it("creates agents/<jid> on the agent's first publish, owned by the agent and whitelisted", async () => {
    const { account, client } = await user();
    const node = `agents/${account.jid}`;
    const reply = await set(client, publishIq(node, check(1)));
    expect(reply.getChild("pubsub")?.getChild("publish")?.getChild("item")?.attrs.id).toBe("s1");
    const affs = await get(client, pubsub(xml("affiliations")));
    expect(
      affs
        .getChild("pubsub")
        ?.getChild("affiliations")
        ?.getChildren("affiliation")
        .map((a) => a.attrs),
    ).toEqual([{ node, affiliation: "owner" }]);
    const conf = await get(client, owner(xml("configure", { node })));
    const access = conf
      .getChild("pubsub", NS_OWNER)
      ?.getChild("configure")
      ?.getChild("x")
      ?.getChildren("field")
      .find((f) => f.attrs.var === "pubsub#access_model");
    expect(access?.getChildText("value")).toBe("whitelist");
  });

  it("refuses another JID's agent node and creates nothing", async () => {
    const { client } = await user();
    const victim = await stack.account();
    const node = `agents/${victim.jid}`;
    expect(errorOf(await set(client, publishIq(node, check(1))))).toEqual(["forbidden", undefined]);
    expect(errorOf(await set(client, pubsub(xml("create", { node }))))).toEqual([
      "forbidden",
      undefined,
    ]);
    expect(await redis.exists(keys.psNode(node))).toBe(0);
    expect(await redis.zscore(keys.psAgents(), node)).toBeNull();
  });

  it("acks a replayed seq with the same id but stores, notifies and ingests it once", async () => {
    const { account, client } = await user();
    const node = `agents/${account.jid}`;
    const events = collectEvents(client);
    await set(client, publishIq(node, check(1)));
    expect(errorOf(await subscribe(client, node, account.jid))).toBeUndefined();
    for (const seq of [2, 3]) await set(client, publishIq(node, check(seq)));
    const replay = await set(client, publishIq(node, check(2)));
    expect(replay.attrs.type).toBe("result");
    expect(replay.getChild("pubsub")?.getChild("publish")?.getChild("item")?.attrs.id).toBe("s2");
    await set(client, publishIq(node, check(4)));
    await waitFor(() => eventItems(events).length >= 4);
    await sleep(200);
    // s1 came on subscribe, as the node's last published item (agent nodes: on_sub).
    expect(eventItems(events).map((e) => [e.id, e.seq, e.delayed])).toEqual([
      ["s1", 1, true],
      ["s2", 2, false],
      ["s3", 3, false],
      ["s4", 4, false],
    ]);
    expect(await storedCount(node)).toBe(4);
    const ingested = await ingestEntries(account.jid, node);
    expect(ingested.map((e) => [e.nodeSeq, e.agentSeq, e.itemId, e.owner])).toEqual([
      [1, 1, "s1", account.jid],
      [2, 2, "s2", account.jid],
      [3, 3, "s3", account.jid],
      [4, 4, "s4", account.jid],
    ]);
    expect(ingested[0]?.payload).toMatch(/^<check xmlns="urn:jabmon:0" seq="1"/);
  });

  it("stores a seq that arrives after a higher one (publishes overtaking each other), once", async () => {
    const { account, client } = await user();
    const node = `agents/${account.jid}`;
    for (const seq of [1, 3, 2, 2, 3]) {
      const reply = await set(client, publishIq(node, check(seq)));
      expect(reply.attrs.type).toBe("result");
    }
    expect(await storedCount(node)).toBe(3);
    const ingested = await ingestEntries(account.jid, node);
    expect(ingested.map((e) => [e.nodeSeq, e.agentSeq, e.itemId])).toEqual([
      [1, 1, "s1"],
      [2, 3, "s3"],
      [3, 2, "s2"],
    ]);
    // Far below the highest stored (1,000 or more) and never stored: not an
    // overtaken publish but a seq that went back, refused (docs/protocol.md).
    await set(client, publishIq(node, check(1500)));
    expect(errorOf(await set(client, publishIq(node, check(400))))).toEqual([
      "unexpected-request",
      undefined,
    ]);
    // Stored long ago, now far below: a replay, acknowledged.
    expect(errorOf(await set(client, publishIq(node, check(1))))).toBeUndefined();
    expect(await storedCount(node)).toBe(4);
  });
});

describe("ordering", () => {
  it("gives items strictly increasing sequences and notifies in that order", async () => {
    const { account, client } = await user();
    const sub = await user();
    const node = `order-${account.user}`;
    await createNode(client, node);
    await subscribe(sub.client, node, sub.account.jid);
    const events = collectEvents(sub.client);
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        set(client, publishIq(node, xml("n", { xmlns: "urn:x", i: String(i) }))),
      ),
    );
    expect(replies.every((r) => r.attrs.type === "result")).toBe(true);
    await waitFor(() => eventItems(events).length === 200, { timeoutMs: 10_000 });
    const seqs = eventItems(events).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });
});

describe("publish-options preconditions (XEP-0060 §7.1.5)", () => {
  it("checks publish-options preconditions before storing", async () => {
    const { account, client } = await user();
    const node = `pre-${account.user}`;
    await createNode(client, node, { "pubsub#access_model": "whitelist" });
    const mismatch = await set(
      client,
      publishIq(
        node,
        xml("n", { xmlns: "urn:x" }),
        "x",
        xml("publish-options", {}, form(PUBLISH_OPTIONS, { "pubsub#access_model": "open" })),
      ),
    );
    expect(errorOf(mismatch)).toEqual(["conflict", "precondition-not-met"]);
    expect(await storedCount(node)).toBe(0);
    const match = await set(
      client,
      publishIq(
        node,
        xml("n", { xmlns: "urn:x" }),
        "x",
        xml("publish-options", {}, form(PUBLISH_OPTIONS, { "pubsub#access_model": "whitelist" })),
      ),
    );
    expect(errorOf(match)).toBeUndefined();
    expect(await storedCount(node)).toBe(1);
  });
});

describe("malformed and refused requests", () => {
  it("answers each with the XEP-0060 error and stores nothing", async () => {
    const { account, client } = await user();
    const node = `bad-${account.user}`;
    await createNode(client, node);
    const cases: Array<[Xml, [string, string | undefined]]> = [
      [
        pubsub(xml("publish", {}, xml("item", {}, xml("n", { xmlns: "urn:x" })))),
        ["bad-request", "nodeid-required"],
      ],
      [pubsub(xml("publish", { node })), ["bad-request", "item-required"]],
      [pubsub(xml("publish", { node }, xml("item"))), ["bad-request", "payload-required"]],
      [
        pubsub(
          xml(
            "publish",
            { node },
            xml("item", {}, xml("a", { xmlns: "urn:x" }), xml("b", { xmlns: "urn:x" })),
          ),
        ),
        ["bad-request", "invalid-payload"],
      ],
      [
        publishIq(node, xml("big", { xmlns: "urn:x" }, "x".repeat(3000))),
        ["not-acceptable", "payload-too-big"],
      ],
      [
        publishIq(`nothing-${account.user}`, xml("n", { xmlns: "urn:x" })),
        ["item-not-found", undefined],
      ],
      [publishIq(" bad name", xml("n", { xmlns: "urn:x" })), ["not-acceptable", undefined]],
      [publishIq(node, check(0)), ["bad-request", "invalid-payload"]],
      [
        pubsub(xml("create"), xml("configure", {}, form(CONFIG, { "pubsub#max_items": "0" }))),
        ["not-acceptable", undefined],
      ],
      [
        pubsub(xml("subscribe", { node, jid: "someone@localhost" })),
        ["bad-request", "invalid-jid"],
      ],
      [pubsub(xml("retract", { node })), ["bad-request", "item-required"]],
      [pubsub(xml("frobnicate", { node })), ["feature-not-implemented", "unsupported"]],
    ];
    for (const [payload, expected] of cases) {
      const reply = await set(client, payload);
      expect({ payload: payload.toString().slice(0, 80), error: errorOf(reply) }).toEqual({
        payload: payload.toString().slice(0, 80),
        error: expected,
      });
    }
    expect(await storedCount(node)).toBe(0);
    expect(await redis.hget(keys.psNode(node), "seq")).toBe("0");
  });

  it("documents every error code in docs/pubsub.md", () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "pubsub.md"), "utf8");
    for (const code of Object.keys(PUBSUB_ERRORS)) expect(doc, code).toContain(code);
  });
});

it("is wired into the running component", () => {
  expect(component.pubsub.store).toBeDefined();
});
