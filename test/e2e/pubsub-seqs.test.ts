/**
 * Issue 18 items 3, 5, 6 through a real ejabberd and Redis: one agent policy on
 * presence, pubsub and ingest (host names bound to JIDs); a node deleted and
 * created again keeps its sequence, so the monitor applies what follows; a
 * publish whose seq went back far below the node's highest is refused with
 * <seq-regressed/>, never acknowledged unstored, while a true replay still is.
 */
import { type Client, xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeIngestEntry } from "../../src/monitor/ingest/consumer.js";
import type { RunningComponent } from "../../src/server/index.js";
import { ingestShard, Keys, type Redis } from "../../src/store/index.js";
import { checkXml, publishEntry } from "../helpers/ingest.js";
import {
  available,
  check,
  errorOf,
  iq,
  NS_JABMON,
  owner,
  publishIq,
  pubsub,
  type Xml,
} from "../helpers/pubsub.js";
import { type Account, useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const stack = useStack("pubsub-seqs");
let component: RunningComponent;
let redis: Redis;
let keys: Keys;

beforeAll(async () => {
  // stack.account() names accounts agent-<hex>: those are agents; client-<hex> are not.
  component = await stack.startComponent({
    monitor: { agentDomains: [stack.domain], agents: ["agent-*@localhost"] },
  });
  redis = stack.redis();
  keys = new Keys(stack.prefix);
});

async function online(account?: Account): Promise<{ account: Account; client: Client }> {
  const who = account ?? (await stack.account());
  const client = await stack.client(who);
  await available(client);
  return { account: who, client };
}

const set = (c: Client, payload: Xml) => iq(c, stack.componentJid, "set", payload);

async function ingested(jid: string) {
  const entries = await redis.xrange(keys.ingest(ingestShard(jid)), "-", "+");
  return entries
    .map(([id, fields]) => decodeIngestEntry(id, fields))
    .filter((e) => e.node === `agents/${jid}`);
}

const checkState = (jid: string) => redis.hget(keys.check(jid, "load"), "state");

function statusPresence(c: Client, host: string) {
  return c.send(
    xml(
      "presence",
      { to: stack.componentJid },
      xml("x", { xmlns: NS_JABMON, host, state: "ok", version: "test" }),
    ),
  );
}

describe("who counts as an agent", () => {
  it("refuses a non-agent's own agent node with forbidden: nothing stored, nothing ingested", async () => {
    const { account, client } = await online(await stack.account(`client-${Date.now()}`));
    const node = `agents/${account.jid}`;
    const reply = await set(client, publishIq(node, check(1, { state: "critical" })));
    expect(errorOf(reply)).toEqual(["forbidden", undefined]);
    expect(
      reply.getChild("error")?.getChildText("text", "urn:ietf:params:xml:ns:xmpp-stanzas"),
    ).toMatch(/not an agent/);
    expect(errorOf(await set(client, pubsub(xml("create", { node }))))).toEqual([
      "forbidden",
      undefined,
    ]);
    expect(await redis.exists(keys.psNode(node))).toBe(0);
    expect(await ingested(account.jid)).toEqual([]);

    // The same publish from an agent goes through.
    const agent = await online();
    const ok = await set(agent.client, publishIq(`agents/${agent.account.jid}`, check(1)));
    expect(errorOf(ok)).toBeUndefined();
    expect(await ingested(agent.account.jid)).toHaveLength(1);
  });

  it("ignores a non-agent's presence", async () => {
    const outsider = await online(await stack.account(`client-p${Date.now()}`));
    const agent = await online();
    await statusPresence(outsider.client, "outsider.example.com");
    await statusPresence(agent.client, "insider.example.com");
    await waitFor(async () => (await component.hosts.get(agent.account.jid))?.online, {
      what: "the agent's host record",
    });
    await sleep(200);
    expect(await component.hosts.get(outsider.account.jid)).toBeUndefined();
  });

  it("drops an ingest entry from a non-agent with a count, changing no state and alerting nobody", async () => {
    const outsider = `client-i${Date.now()}@localhost`;
    const before = component.monitor.ingest.droppedNotAgent;
    await publishEntry(redis, stack.prefix, outsider, 1, checkXml(1, "load", "critical"));
    await waitFor(() => component.monitor.ingest.droppedNotAgent > before, {
      what: "the entry dropped",
    });
    expect(await redis.exists(keys.host(outsider))).toBe(0);
    expect(await redis.exists(keys.check(outsider, "load"))).toBe(0);
    expect((await component.monitor.alerts.recent(50)).some((a) => a.jid === outsider)).toBe(false);
  });

  it("binds a host name to the first JID that claims it; another JID cannot take it", async () => {
    const first = await online();
    const second = await online();
    const name = `web${Date.now()}.example.com`;
    await statusPresence(first.client, name);
    await waitFor(async () => (await component.hosts.get(first.account.jid))?.host === name, {
      what: "the first claim",
    });
    await statusPresence(second.client, name.toUpperCase());
    const refused = await waitFor(() => component.hosts.get(second.account.jid), {
      what: "the second host's record",
    });
    expect(refused.host).toBe(second.account.user);
    expect((await component.hosts.get(first.account.jid))?.host).toBe(name);

    // Renamed, the first host lets its old name go; now the second may have it.
    await statusPresence(first.client, `other-${name}`);
    await waitFor(
      async () => (await component.hosts.get(first.account.jid))?.host === `other-${name}`,
      { what: "the rename" },
    );
    await statusPresence(second.client, name);
    await waitFor(async () => (await component.hosts.get(second.account.jid))?.host === name, {
      what: "the freed name claimed",
    });
  });
});

describe("a deleted agent node", () => {
  it("continues its sequence when created again, so the monitor applies the new results", async () => {
    const { account, client } = await online();
    const node = `agents/${account.jid}`;
    for (const seq of [1, 2]) await set(client, publishIq(node, check(seq, { state: "ok" })));
    await waitFor(async () => (await checkState(account.jid)) === "ok", { what: "first results" });
    expect(errorOf(await set(client, owner(xml("delete", { node }))))).toBeUndefined();

    expect(
      errorOf(await set(client, publishIq(node, check(3, { state: "critical" })))),
    ).toBeUndefined();
    await waitFor(async () => (await checkState(account.jid)) === "critical", {
      what: "the result after the delete applied",
    });
    expect((await ingested(account.jid)).map((e) => e.nodeSeq)).toEqual([1, 2, 3]);
    // An explicit create after a delete continues it too.
    expect(errorOf(await set(client, owner(xml("delete", { node }))))).toBeUndefined();
    expect(errorOf(await set(client, pubsub(xml("create", { node }))))).toBeUndefined();
    await set(client, publishIq(node, check(4, { state: "warning" })));
    await waitFor(async () => (await checkState(account.jid)) === "warning", {
      what: "the result after the second delete applied",
    });
    expect((await ingested(account.jid)).map((e) => e.nodeSeq)).toEqual([1, 2, 3, 4]);
    // The kept sequence moved back into the node: nothing left behind.
    expect(await redis.hexists(`${stack.prefix}ps:seq-hw`, node)).toBe(0);
  });
});

describe("an agent seq that went back", () => {
  const regressed = (reply: Xml) => reply.getChild("error")?.getChild("seq-regressed", NS_JABMON);

  it("is refused with <seq-regressed high/> and stores nothing; a true replay is still acknowledged", async () => {
    const { account, client } = await online();
    const node = `agents/${account.jid}`;
    for (const seq of [1, 2, 3]) await set(client, publishIq(node, check(seq)));
    // One stray huge seq.
    await set(client, publishIq(node, check(5_000_000)));

    // A replay of a stored seq, now far below the highest: acknowledged, not stored again.
    const replay = await set(client, publishIq(node, check(2)));
    expect(replay.attrs.type).toBe("result");

    // Never stored and far below the highest: refused, so the agent re-seeds.
    const refused = await set(client, publishIq(node, check(4)));
    expect(errorOf(refused)).toEqual(["unexpected-request", undefined]);
    expect(refused.getChild("error")?.attrs.type).toBe("modify");
    expect(regressed(refused)?.attrs.high).toBe("5000000");

    // Within the reorder span below the highest: stored (overtaken in flight).
    expect(errorOf(await set(client, publishIq(node, check(4_999_500))))).toBeUndefined();
    // Re-seeded above the highest: stored.
    expect(errorOf(await set(client, publishIq(node, check(5_000_001))))).toBeUndefined();
    expect((await ingested(account.jid)).map((e) => e.agentSeq)).toEqual([
      1, 2, 3, 5_000_000, 4_999_500, 5_000_001,
    ]);
    expect(await redis.zcard(keys.psItems(node))).toBe(6);
  });

  it("converts a node's seqs stored before the ranges, so their replays are still acknowledged", async () => {
    const { account, client } = await online();
    const node = `agents/${account.jid}`;
    for (const seq of [10, 11, 12, 2000]) await set(client, publishIq(node, check(seq)));
    // As an older version left it: the recent seqs one by one in ps:aseqs:<node>.
    await redis.del(`${stack.prefix}ps:aranges:${node}`);
    await redis.zadd(`${stack.prefix}ps:aseqs:${node}`, 10, "10", 11, "11", 12, "12", 2000, "2000");
    expect((await set(client, publishIq(node, check(11)))).attrs.type).toBe("result");
    expect(regressed(await set(client, publishIq(node, check(13))))?.attrs.high).toBe("2000");
    expect(await redis.exists(`${stack.prefix}ps:aseqs:${node}`)).toBe(0);
    expect(await redis.zcard(keys.psItems(node))).toBe(4);
  });

  it("refuses a seq above 2^53 - 1 as bad-request (not exact in Redis)", async () => {
    const { account, client } = await online();
    const reply = await set(client, publishIq(`agents/${account.jid}`, check(2 ** 53 + 2)));
    expect(errorOf(reply)).toEqual(["bad-request", "invalid-payload"]);
  });
});
