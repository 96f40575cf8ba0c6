/**
 * The XEP-0060 service, exercised by plain xmpp.js clients through a real
 * ejabberd, with state checked in the real Redis.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Client, xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import { PUBSUB_ERRORS, PubsubStore } from "../../src/pubsub/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import {
  createRedis,
  ingestShard,
  Keys,
  parseIngestFields,
  type Redis,
} from "../../src/store/index.js";
import {
  available,
  check,
  collectEvents,
  errorOf,
  eventItems,
  form,
  iq,
  NS_DATA,
  NS_DELAY,
  NS_EVENT,
  NS_OWNER,
  NS_RSM,
  owner,
  publishIq,
  pubsub,
  type Xml,
} from "../helpers/pubsub.js";
import { type Account, REDIS_URL, TestStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const CONFIG = "http://jabber.org/protocol/pubsub#node_config";
const PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";
/** pubsub.maxDiscoItems of the component under test: the largest disco#items page. */
const DISCO_PAGE = 5;

let stack: TestStack;
let component: RunningComponent;
let redis: Redis;
let keys: Keys;
let service: string;
/** In pubsub.subscribers: reads every node (as an alertbot does). */
let reader: Account;

beforeAll(async () => {
  stack = await TestStack.start("pubsub");
  reader = await stack.account("reader");
  component = await stack.startComponent({
    pubsub: {
      maxPayloadBytes: 2048,
      sweepMs: 200,
      maxDiscoItems: DISCO_PAGE,
      subscribers: [reader.jid],
    },
  });
  redis = createRedis(REDIS_URL, silentLogger());
  keys = new Keys(stack.prefix);
  service = stack.componentJid;
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.cleanup();
});

async function user(): Promise<{ account: Account; client: Client }> {
  const account = await stack.account();
  const client = await stack.client(account);
  await available(client);
  return { account, client };
}

const set = (c: Client, payload: Xml) => iq(c, service, "set", payload);
const get = (c: Client, payload: Xml) => iq(c, service, "get", payload);

async function createNode(c: Client, node: string, config: Record<string, string> = {}) {
  const reply = await set(
    c,
    pubsub(xml("create", { node }), xml("configure", {}, form(CONFIG, config))),
  );
  expect(errorOf(reply)).toBeUndefined();
}

async function subscribe(c: Client, node: string, jid: string) {
  return set(c, pubsub(xml("subscribe", { node, jid })));
}

const rsm = (...children: Xml[]) => xml("set", { xmlns: NS_RSM }, ...children);

/** disco#items of a node ("" = the service): nodes (or item names) and the RSM <set/>. */
async function discoItems(c: Client, node: string, set?: Xml) {
  const reply = await get(
    c,
    xml("query", { xmlns: NS_DISCO_ITEMS, node: node || undefined }, ...(set ? [set] : [])),
  );
  expect(errorOf(reply)).toBeUndefined();
  const query = reply.getChild("query");
  const page = query?.getChild("set", NS_RSM);
  return {
    names: (query?.getChildren("item") ?? []).map((i) => (i.attrs.node ?? i.attrs.name) as string),
    count: page ? Number(page.getChildText("count")) : undefined,
    firstIndex: page?.getChild("first")?.attrs.index as string | undefined,
    first: page?.getChildText("first") ?? undefined,
    last: page?.getChildText("last") ?? undefined,
    page,
  };
}

/** Every entry of a disco#items listing, fetched `max` at a time with <after>. */
async function pageThrough(c: Client, node: string, max: number) {
  const all: string[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await discoItems(
      c,
      node,
      rsm(xml("max", {}, String(max)), ...(after ? [xml("after", {}, after)] : [])),
    );
    expect(page.firstIndex).toBe(page.names.length > 0 ? String(all.length) : undefined);
    all.push(...page.names);
    if (page.names.length === 0 || all.length >= (page.count ?? 0)) return all;
    after = page.last;
  }
  throw new Error("paging did not end");
}

async function itemIds(c: Client, node: string, ...extra: Xml[]) {
  const reply = await get(c, pubsub(xml("items", { node }), ...extra));
  expect(errorOf(reply)).toBeUndefined();
  const items = reply.getChild("pubsub")?.getChild("items")?.getChildren("item") ?? [];
  return { ids: items.map((i) => i.attrs.id as string), reply };
}

const storedCount = (node: string) => redis.zcard(keys.psItems(node));

/** node, jid, subscription of the subscription-state notifications among events. */
const subscriptionEvents = (events: Xml[]) =>
  events.flatMap((e) => {
    const s = e.getChild("event", NS_EVENT)?.getChild("subscription");
    return s ? [{ node: s.attrs.node, jid: s.attrs.jid, subscription: s.attrs.subscription }] : [];
  });

const AUTHORIZATION = "http://jabber.org/protocol/pubsub#subscribe_authorization";

/** Messages carrying a pubsub#subscribe_authorization form, arriving at a client. */
function collectAuthorizationRequests(client: Client): Xml[] {
  const forms: Xml[] = [];
  client.on("stanza", (stanza: Xml) => {
    const x = stanza.is("message") ? stanza.getChild("x", NS_DATA) : undefined;
    const formType = x?.getChildren("field").find((f) => f.attrs.var === "FORM_TYPE");
    if (formType?.getChildText("value") === AUTHORIZATION) forms.push(stanza);
  });
  return forms;
}

const formValue = (message: Xml, name: string) =>
  message
    .getChild("x", NS_DATA)
    ?.getChildren("field")
    .find((f) => f.attrs.var === name)
    ?.getChildText("value");

/** An owner's answer to an authorization request, as a message to the service. */
function answer(c: Client, fields: Record<string, string>, type = "submit") {
  const x = form(AUTHORIZATION, fields);
  x.attrs.type = type;
  return c.send(xml("message", { to: service, id: `auth-${Math.random()}` }, x));
}

/** The next message error a client gets: [condition, application condition]. */
function nextMessageError(client: Client): Promise<[string | undefined, string | undefined]> {
  return new Promise((resolve) => {
    const onStanza = (stanza: Xml) => {
      if (!stanza.is("message") || stanza.attrs.type !== "error") return;
      client.removeListener("stanza", onStanza);
      resolve(errorOf(stanza) as [string | undefined, string | undefined]);
    };
    client.on("stanza", onStanza);
  });
}

async function ingestEntries(owner: string, node: string) {
  const entries = await redis.xrange(keys.ingest(ingestShard(owner)), "-", "+");
  return entries.map(([, fields]) => parseIngestFields(fields)).filter((e) => e.node === node);
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
    // Far below the highest stored (over 1,000): a replay, not an overtaken publish.
    await set(client, publishIq(node, check(1500)));
    await set(client, publishIq(node, check(400)));
    expect(await storedCount(node)).toBe(4);
  });

  it("lists every agent node under alertpublishers by disco#items", async () => {
    const agents = [await user(), await user()];
    for (const a of agents) await set(a.client, publishIq(`agents/${a.account.jid}`, check(1)));
    const { client } = await user();
    const reply = await get(
      client,
      xml("query", { xmlns: NS_DISCO_ITEMS, node: "alertpublishers" }),
    );
    const nodes = reply
      .getChild("query")
      ?.getChildren("item")
      .map((i) => i.attrs.node);
    for (const a of agents) expect(nodes).toContain(`agents/${a.account.jid}`);
    const root = await get(client, xml("query", { xmlns: NS_DISCO_ITEMS }));
    expect(
      root
        .getChild("query")
        ?.getChildren("item")
        .map((i) => i.attrs.node),
    ).toContain("alertpublishers");
  });
});

describe("alertpublishers subscriptions", () => {
  /** [change, node] of the collection notifications among events (XEP-0248 style). */
  const listingChanges = (events: Xml[]) =>
    events.flatMap((e) => {
      const collection = e.getChild("event", NS_EVENT)?.getChild("collection");
      if (collection?.attrs.node !== "alertpublishers") return [];
      return collection.getChildElements().map((c) => [c.name, c.attrs.node as string]);
    });

  it("tells a listener of each new agent node and each deleted one; others may not listen", async () => {
    const listener = await stack.client(reader);
    await available(listener);
    const events = collectEvents(listener);
    const reply = await subscribe(listener, "alertpublishers", reader.jid);
    expect(errorOf(reply)).toBeUndefined();
    expect(reply.getChild("pubsub")?.getChild("subscription")?.attrs).toMatchObject({
      node: "alertpublishers",
      subscription: "subscribed",
    });
    const stranger = await user();
    expect(
      errorOf(await subscribe(stranger.client, "alertpublishers", stranger.account.jid)),
    ).toEqual(["not-allowed", "closed-node"]);

    const agent = await user();
    const node = `agents/${agent.account.jid}`;
    await set(agent.client, publishIq(node, check(1)));
    await set(agent.client, publishIq(node, check(2))); // the node exists now: no news
    expect(errorOf(await set(agent.client, owner(xml("delete", { node }))))).toBeUndefined();
    await waitFor(() => listingChanges(events).length >= 2, { what: "associate and disassociate" });
    await sleep(200);
    expect(listingChanges(events)).toEqual([
      ["associate", node],
      ["disassociate", node],
    ]);

    const stop = pubsub(xml("unsubscribe", { node: "alertpublishers", jid: reader.jid }));
    expect(errorOf(await set(listener, stop))).toBeUndefined();
    expect(errorOf(await set(listener, stop))).toEqual(["unexpected-request", "not-subscribed"]);
    const later = await user();
    await set(later.client, publishIq(`agents/${later.account.jid}`, check(1)));
    await sleep(300);
    expect(listingChanges(events)).toHaveLength(2);
    await listener.stop();
  });
});

describe("disco#items paging (XEP-0059)", () => {
  it("pages alertpublishers forwards, backwards and by index in the order of the full listing", async () => {
    const agents = [await user(), await user(), await user()];
    for (const a of agents) await set(a.client, publishIq(`agents/${a.account.jid}`, check(1)));
    const { client } = await user();
    const full = (await discoItems(client, "alertpublishers")).names;
    expect(full).toEqual(await redis.zrange(keys.psAgents(), 0, -1));
    expect(full.length).toBeGreaterThan(DISCO_PAGE);

    expect(await pageThrough(client, "alertpublishers", 2)).toEqual(full);
    const countOnly = await discoItems(client, "alertpublishers", rsm(xml("max", {}, "0")));
    expect([countOnly.names, countOnly.count, countOnly.first]).toEqual([
      [],
      full.length,
      undefined,
    ]);
    const last = await discoItems(
      client,
      "alertpublishers",
      rsm(xml("max", {}, "2"), xml("before")),
    );
    expect(last.names).toEqual(full.slice(-2));
    expect(last.firstIndex).toBe(String(full.length - 2));
    const before = await discoItems(
      client,
      "alertpublishers",
      rsm(xml("max", {}, "2"), xml("before", {}, full[3] as string)),
    );
    expect([before.names, before.first, before.last]).toEqual([full.slice(1, 3), full[1], full[2]]);
    const byIndex = await discoItems(
      client,
      "alertpublishers",
      rsm(xml("max", {}, "2"), xml("index", {}, "2")),
    );
    expect([byIndex.names, byIndex.firstIndex]).toEqual([full.slice(2, 4), "2"]);
    const beyond = await discoItems(
      client,
      "alertpublishers",
      rsm(xml("index", {}, String(full.length + 10))),
    );
    expect([beyond.names, beyond.count, beyond.first]).toEqual([[], full.length, undefined]);
    // A page is at most pubsub.maxDiscoItems, whatever <max/> asks.
    const capped = await discoItems(client, "alertpublishers", rsm(xml("max", {}, "1000")));
    expect(capped.names).toEqual(full.slice(0, DISCO_PAGE));
  });

  it("lists the service's nodes after alertpublishers, in pages, and marks a listing it cut", async () => {
    const { account, client } = await user();
    for (let i = 0; i < DISCO_PAGE + 1; i++) await createNode(client, `list-${i}-${account.user}`);
    const all = ["alertpublishers", ...(await redis.zrange(keys.psNodes(), 0, -1))];
    const plain = await discoItems(client, "");
    // Without <set/>: the first maxDiscoItems nodes after alertpublishers, as before,
    // and an unsolicited <set/> saying the listing was cut.
    expect(plain.names).toEqual(all.slice(0, DISCO_PAGE + 1));
    expect([plain.count, plain.firstIndex, plain.last]).toEqual([all.length, "0", all[DISCO_PAGE]]);
    expect(await pageThrough(client, "", 3)).toEqual(all);
    const second = await discoItems(
      client,
      "",
      rsm(xml("max", {}, "2"), xml("after", {}, "alertpublishers")),
    );
    expect([second.names, second.firstIndex]).toEqual([all.slice(1, 3), "1"]);
    const head = await discoItems(
      client,
      "",
      rsm(xml("max", {}, "2"), xml("before", {}, all[2] as string)),
    );
    expect(head.names).toEqual(all.slice(0, 2));
  });

  it("pages a node's item ids", async () => {
    const { account, client } = await user();
    const node = `dpage-${account.user}`;
    await createNode(client, node);
    for (const id of ["a", "b", "c"])
      await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), id));
    expect((await discoItems(client, node)).names).toEqual(["a", "b", "c"]);
    const page = await discoItems(client, node, rsm(xml("max", {}, "2"), xml("after", {}, "a")));
    expect([page.names, page.firstIndex, page.count]).toEqual([["b", "c"], "1", 3]);
  });

  it("answers item-not-found for an unknown after/before id and bad-request for a bad max", async () => {
    const { client } = await user();
    const query = (set: Xml) =>
      get(client, xml("query", { xmlns: NS_DISCO_ITEMS, node: "alertpublishers" }, set));
    expect(errorOf(await query(rsm(xml("after", {}, "agents/nobody@localhost"))))).toEqual([
      "item-not-found",
      undefined,
    ]);
    expect(errorOf(await query(rsm(xml("before", {}, "nope"))))).toEqual([
      "item-not-found",
      undefined,
    ]);
    expect(errorOf(await query(rsm(xml("max", {}, "-1"))))).toEqual(["bad-request", undefined]);
    expect(errorOf(await query(rsm(xml("index", {}, "x"))))).toEqual(["bad-request", undefined]);
    const info = await get(client, xml("query", { xmlns: NS_DISCO_INFO }));
    expect(
      info
        .getChild("query")
        ?.getChildren("feature")
        .map((f) => f.attrs.var),
    ).toContain(NS_RSM);
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

describe("retrieval", () => {
  it("pages with RSM so a returning subscriber fetches exactly what it missed", async () => {
    const { account, client } = await user();
    const node = `rsm-${account.user}`;
    await createNode(client, node);
    for (let i = 1; i <= 10; i++)
      await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), `i${i}`));
    const page1 = await itemIds(client, node, xml("set", { xmlns: NS_RSM }, xml("max", {}, "4")));
    expect(page1.ids).toEqual(["i1", "i2", "i3", "i4"]);
    const rsm = page1.reply.getChild("pubsub")?.getChild("set", NS_RSM);
    expect(rsm?.getChildText("count")).toBe("10");
    expect(rsm?.getChild("first")?.attrs.index).toBe("0");
    const page2 = await itemIds(
      client,
      node,
      xml("set", { xmlns: NS_RSM }, xml("max", {}, "4"), xml("after", {}, "i4")),
    );
    expect(page2.ids).toEqual(["i5", "i6", "i7", "i8"]);
    // Away after i10; five more arrive; it asks for everything after i10.
    for (let i = 11; i <= 15; i++)
      await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), `i${i}`));
    const missed = await itemIds(
      client,
      node,
      xml("set", { xmlns: NS_RSM }, xml("after", {}, "i10")),
    );
    expect(missed.ids).toEqual(["i11", "i12", "i13", "i14", "i15"]);
    const seqs = missed.reply
      .getChild("pubsub")
      ?.getChild("items")
      ?.getChildren("item")
      .map((i) => i.attrs["jabmon:seq"]);
    expect(seqs).toEqual(["11", "12", "13", "14", "15"]);
    const last = await itemIds(
      client,
      node,
      xml("set", { xmlns: NS_RSM }, xml("max", {}, "3"), xml("before")),
    );
    expect(last.ids).toEqual(["i13", "i14", "i15"]);
    const before = await itemIds(
      client,
      node,
      xml("set", { xmlns: NS_RSM }, xml("max", {}, "2"), xml("before", {}, "i13")),
    );
    expect(before.ids).toEqual(["i11", "i12"]);
    const unknown = await get(
      client,
      pubsub(xml("items", { node }), xml("set", { xmlns: NS_RSM }, xml("after", {}, "nope"))),
    );
    expect(errorOf(unknown)).toEqual(["item-not-found", undefined]);
  });

  it("returns the newest max_items, items by id, and trims to the node's max_items", async () => {
    const { account, client } = await user();
    const node = `max-${account.user}`;
    await createNode(client, node, { "pubsub#max_items": "5" });
    for (let i = 1; i <= 8; i++)
      await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), `i${i}`));
    expect((await itemIds(client, node)).ids).toEqual(["i4", "i5", "i6", "i7", "i8"]);
    const newest = await get(client, pubsub(xml("items", { node, max_items: "2" })));
    expect(
      newest
        .getChild("pubsub")
        ?.getChild("items")
        ?.getChildren("item")
        .map((i) => i.attrs.id),
    ).toEqual(["i7", "i8"]);
    const byId = await get(client, pubsub(xml("items", { node }, xml("item", { id: "i5" }))));
    expect(
      byId
        .getChild("pubsub")
        ?.getChild("items")
        ?.getChildren("item")
        .map((i) => i.attrs.id),
    ).toEqual(["i5"]);
    const gone = await get(client, pubsub(xml("items", { node }, xml("item", { id: "i1" }))));
    expect(errorOf(gone)).toEqual(["item-not-found", undefined]);
    expect(await storedCount(node)).toBe(5);
  });

  it("ages items out after pubsub#item_expire seconds", async () => {
    const { account, client } = await user();
    const node = `expire-${account.user}`;
    await createNode(client, node, { "pubsub#item_expire": "1" });
    await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), "old"));
    expect((await itemIds(client, node)).ids).toEqual(["old"]);
    await sleep(1100);
    await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), "new"));
    expect((await itemIds(client, node)).ids).toEqual(["new"]);
    await sleep(1100);
    expect((await itemIds(client, node)).ids).toEqual([]);
    await waitFor(async () => (await storedCount(node)) === 0, { what: "sweep" });
  });
});

describe("subscriptions and access", () => {
  it("keeps a whitelist closed until the owner affiliates a member", async () => {
    const { account, client } = await user();
    const other = await user();
    const node = `white-${account.user}`;
    await createNode(client, node, { "pubsub#access_model": "whitelist" });
    expect(errorOf(await subscribe(other.client, node, other.account.jid))).toEqual([
      "not-allowed",
      "closed-node",
    ]);
    expect(errorOf(await get(other.client, pubsub(xml("items", { node }))))).toEqual([
      "not-allowed",
      "closed-node",
    ]);
    await set(
      client,
      owner(
        xml(
          "affiliations",
          { node },
          xml("affiliation", { jid: other.account.jid, affiliation: "member" }),
        ),
      ),
    );
    expect(errorOf(await subscribe(other.client, node, other.account.jid))).toBeUndefined();
    expect(errorOf(await set(other.client, publishIq(node, xml("n", { xmlns: "urn:x" }))))).toEqual(
      ["forbidden", undefined],
    );
  });

  it("holds authorize-model subscriptions pending until the owner approves", async () => {
    const { account, client } = await user();
    const other = await user();
    const node = `auth-${account.user}`;
    await createNode(client, node, { "pubsub#access_model": "authorize" });
    const pending = await subscribe(other.client, node, other.account.jid);
    expect(pending.getChild("pubsub")?.getChild("subscription")?.attrs.subscription).toBe(
      "pending",
    );
    expect(errorOf(await get(other.client, pubsub(xml("items", { node }))))).toEqual([
      "not-authorized",
      "pending-subscription",
    ]);
    const events = collectEvents(other.client);
    await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), "before"));
    await set(
      client,
      owner(
        xml(
          "subscriptions",
          { node },
          xml("subscription", { jid: other.account.jid, subscription: "subscribed" }),
        ),
      ),
    );
    await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), "after"));
    await waitFor(() => eventItems(events).length > 1);
    // The approval made a new subscription: it got the last item (on_sub), then the new one.
    expect(eventItems(events).map((e) => [e.id, e.delayed])).toEqual([
      ["before", true],
      ["after", false],
    ]);
    // …and was told of it first (§8.8.4 subscription notification).
    expect(subscriptionEvents(events)).toEqual([
      { node, jid: other.account.jid, subscription: "subscribed" },
    ]);
    expect((await itemIds(other.client, node)).ids).toEqual(["before", "after"]);
  });

  it("refuses an outcast everything and drops its subscription", async () => {
    const { account, client } = await user();
    const other = await user();
    const node = `out-${account.user}`;
    await createNode(client, node, { "pubsub#publish_model": "open" });
    await subscribe(other.client, node, other.account.jid);
    await set(
      client,
      owner(
        xml(
          "affiliations",
          { node },
          xml("affiliation", { jid: other.account.jid, affiliation: "outcast" }),
        ),
      ),
    );
    expect(await redis.hlen(keys.psSubscriptions(node))).toBe(0);
    expect(errorOf(await subscribe(other.client, node, other.account.jid))).toEqual([
      "forbidden",
      undefined,
    ]);
    expect(errorOf(await get(other.client, pubsub(xml("items", { node }))))).toEqual([
      "forbidden",
      undefined,
    ]);
    expect(errorOf(await set(other.client, publishIq(node, xml("n", { xmlns: "urn:x" }))))).toEqual(
      ["forbidden", undefined],
    );
    expect(await storedCount(node)).toBe(0);
  });

  it("stops delivery with pubsub#deliver false and lists own subscriptions", async () => {
    const { account, client } = await user();
    const node = `opts-${account.user}`;
    await createNode(client, node);
    const sub = await subscribe(client, node, account.jid);
    const subid = sub.getChild("pubsub")?.getChild("subscription")?.attrs.subid;
    const mine = await get(client, pubsub(xml("subscriptions")));
    expect(
      mine
        .getChild("pubsub")
        ?.getChild("subscriptions")
        ?.getChildren("subscription")
        .map((s) => s.attrs),
    ).toEqual([{ node, jid: account.jid, subid, subscription: "subscribed" }]);
    const opts = await get(client, pubsub(xml("options", { node, jid: account.jid })));
    expect(opts.getChild("pubsub")?.getChild("options")?.getChild("x")).toBeDefined();
    const submit = form("http://jabber.org/protocol/pubsub#subscribe_options", {
      "pubsub#deliver": "false",
    });
    expect(
      errorOf(await set(client, pubsub(xml("options", { node, jid: account.jid }, submit)))),
    ).toBeUndefined();
    const events = collectEvents(client);
    await set(client, publishIq(node, xml("n", { xmlns: "urn:x" })));
    await sleep(300);
    expect(events).toHaveLength(0);
    expect(
      errorOf(await set(client, pubsub(xml("unsubscribe", { node, jid: account.jid })))),
    ).toBeUndefined();
    expect(
      errorOf(await set(client, pubsub(xml("unsubscribe", { node, jid: account.jid })))),
    ).toEqual(["unexpected-request", "not-subscribed"]);
  });
});

describe("last published item (pubsub#send_last_published_item)", () => {
  const lastConfig = async (c: Client, node: string) => {
    const conf = await get(c, owner(xml("configure", { node })));
    const field = conf
      .getChild("pubsub", NS_OWNER)
      ?.getChild("configure")
      ?.getChild("x")
      ?.getChildren("field")
      .find((f) => f.attrs.var === "pubsub#send_last_published_item");
    return {
      value: field?.getChildText("value"),
      options: field?.getChildren("option").map((o) => o.getChildText("value")),
    };
  };

  it("sends a new subscriber the last item after the result, with its jabmon:seq and a delay stamp", async () => {
    const { account, client } = await user();
    const sub = await user();
    const node = `last-${account.user}`;
    await createNode(client, node);
    expect(await lastConfig(client, node)).toEqual({
      value: "on_sub",
      options: ["never", "on_sub", "on_sub_and_presence"],
    });
    await set(client, publishIq(node, xml("n", { xmlns: "urn:x", v: "1" }), "first"));
    const before = Date.now();
    await set(client, publishIq(node, xml("n", { xmlns: "urn:x", v: "2" }), "second"));
    const order: string[] = [];
    sub.client.on("stanza", (s: Xml) => {
      if (s.is("iq") && s.attrs.type === "result") order.push("result");
      if (s.is("message")) order.push("event");
    });
    const events = collectEvents(sub.client);
    const reply = await subscribe(sub.client, node, sub.account.jid);
    expect(errorOf(reply)).toBeUndefined();
    await waitFor(() => events.length === 1);
    await sleep(200);
    expect(order).toEqual(["result", "event"]);
    expect(eventItems(events).map((e) => [e.id, e.seq, e.delayed, e.payload?.attrs.v])).toEqual([
      ["second", 2, true, "2"],
    ]);
    const stamp = Date.parse(events[0]?.getChild("delay", NS_DELAY)?.attrs.stamp);
    expect(stamp).toBeGreaterThanOrEqual(before - 1000);
    expect(stamp).toBeLessThanOrEqual(Date.now());
  });

  it("sends nothing with never, to a pending subscriber, or from an empty node; on_sub_and_presence acts as on_sub", async () => {
    const { account, client } = await user();
    const sub = await user();
    const events = collectEvents(sub.client);
    const never = `last-never-${account.user}`;
    await createNode(client, never, { "pubsub#send_last_published_item": "never" });
    await set(client, publishIq(never, xml("n", { xmlns: "urn:x" })));
    await subscribe(sub.client, never, sub.account.jid);
    const empty = `last-empty-${account.user}`;
    await createNode(client, empty);
    await subscribe(sub.client, empty, sub.account.jid);
    const authorize = `last-auth-${account.user}`;
    await createNode(client, authorize, { "pubsub#access_model": "authorize" });
    await set(client, publishIq(authorize, xml("n", { xmlns: "urn:x" })));
    const pending = await subscribe(sub.client, authorize, sub.account.jid);
    expect(pending.getChild("pubsub")?.getChild("subscription")?.attrs.subscription).toBe(
      "pending",
    );
    await sleep(300);
    expect(events).toHaveLength(0);

    const presence = `last-presence-${account.user}`;
    await createNode(client, presence, {
      "pubsub#send_last_published_item": "on_sub_and_presence",
    });
    await set(client, publishIq(presence, xml("n", { xmlns: "urn:x" }), "only"));
    await subscribe(sub.client, presence, sub.account.jid);
    await waitFor(() => eventItems(events, presence).length === 1);
    expect(eventItems(events, presence)[0]?.id).toBe("only");
  });

  it("is a node option: configurable, in disco#info metadata, refused when bad; the alerts node never sends", async () => {
    const { account, client } = await user();
    const node = `last-conf-${account.user}`;
    await createNode(client, node);
    const bad = await set(
      client,
      owner(
        xml("configure", { node }, form(CONFIG, { "pubsub#send_last_published_item": "always" })),
      ),
    );
    expect(errorOf(bad)).toEqual(["not-acceptable", undefined]);
    expect(
      errorOf(
        await set(
          client,
          owner(
            xml(
              "configure",
              { node },
              form(CONFIG, { "pubsub#send_last_published_item": "never" }),
            ),
          ),
        ),
      ),
    ).toBeUndefined();
    expect((await lastConfig(client, node)).value).toBe("never");
    const info = await get(client, xml("query", { xmlns: NS_DISCO_INFO, node }));
    const field = info
      .getChild("query")
      ?.getChild("x")
      ?.getChildren("field")
      .find((f) => f.attrs.var === "pubsub#send_last_published_item");
    expect(field?.getChildText("value")).toBe("never");
    const service = await get(client, xml("query", { xmlns: NS_DISCO_INFO }));
    expect(
      service
        .getChild("query")
        ?.getChildren("feature")
        .map((f) => f.attrs.var),
    ).toContain("http://jabber.org/protocol/pubsub#last-published");
    // The component's alerts node carries events: a new subscriber gets no old alert.
    expect(await redis.hget(keys.psNode("alerts"), "send_last_published_item")).toBe("never");
    // An agent node's auto-create stores the default.
    await set(client, publishIq(`agents/${account.jid}`, check(1)));
    expect(await redis.hget(keys.psNode(`agents/${account.jid}`), "send_last_published_item")).toBe(
      "on_sub",
    );
  });
});

describe("subscription authorization (XEP-0060 §8.6)", () => {
  it("asks the owner with the subscribe_authorization form; approving subscribes and tells the subscriber", async () => {
    const { account, client } = await user();
    const sub = await user();
    const node = `authz-${account.user}`;
    await createNode(client, node, { "pubsub#access_model": "authorize" });
    await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), "latest"));
    const requests = collectAuthorizationRequests(client);
    const events = collectEvents(sub.client);
    const reply = await subscribe(sub.client, node, sub.account.jid);
    const subid = reply.getChild("pubsub")?.getChild("subscription")?.attrs.subid;
    await waitFor(() => requests.length === 1, { what: "the owner's authorization request" });
    const request = requests[0] as Xml;
    expect(request.getChild("x", NS_DATA)?.attrs.type).toBe("form");
    expect(
      ["pubsub#subid", "pubsub#node", "pubsub#subscriber_jid", "pubsub#allow"].map((f) =>
        formValue(request, f),
      ),
    ).toEqual([subid, node, sub.account.jid, "false"]);
    // Asking again while pending does not ask the owner again.
    await subscribe(sub.client, node, sub.account.jid);

    await answer(client, {
      "pubsub#subid": subid,
      "pubsub#node": node,
      "pubsub#subscriber_jid": sub.account.jid,
      "pubsub#allow": "true",
    });
    await waitFor(() => eventItems(events).length === 1, { what: "the last item after approval" });
    expect(subscriptionEvents(events)).toEqual([
      { node, jid: sub.account.jid, subscription: "subscribed" },
    ]);
    expect(eventItems(events).map((e) => [e.id, e.delayed])).toEqual([["latest", true]]);
    expect(await redis.hget(keys.psSubscriptions(node), sub.account.jid)).toMatch(/^subscribed /);
    expect((await itemIds(sub.client, node)).ids).toEqual(["latest"]);
    expect(requests).toHaveLength(1);
  });

  it("denies with allow false, keeps the request on cancel, and refuses forms it cannot apply", async () => {
    const { account, client } = await user();
    const sub = await user();
    const stranger = await user();
    const node = `authz-deny-${account.user}`;
    await createNode(client, node, { "pubsub#access_model": "authorize" });
    const events = collectEvents(sub.client);
    const reply = await subscribe(sub.client, node, sub.account.jid);
    const subid = reply.getChild("pubsub")?.getChild("subscription")?.attrs.subid as string;
    const fields = (allow: string, extra: Record<string, string> = {}) => ({
      "pubsub#subid": subid,
      "pubsub#node": node,
      "pubsub#subscriber_jid": sub.account.jid,
      "pubsub#allow": allow,
      ...extra,
    });
    const pendingState = () => redis.hget(keys.psSubscriptions(node), sub.account.jid);

    await answer(client, fields("true"), "cancel");
    let error = nextMessageError(stranger.client);
    await answer(stranger.client, fields("true"));
    expect(await error).toEqual(["forbidden", undefined]);
    error = nextMessageError(client);
    await answer(client, fields("true", { "pubsub#subid": "wrong" }));
    expect(await error).toEqual(["not-acceptable", "invalid-subid"]);
    error = nextMessageError(client);
    await answer(client, fields("maybe"));
    expect(await error).toEqual(["bad-request", undefined]);
    error = nextMessageError(client);
    await answer(client, fields("true", { "pubsub#node": `nothing-${account.user}` }));
    expect(await error).toEqual(["item-not-found", undefined]);
    expect(await pendingState()).toMatch(/^pending /);

    await answer(client, fields("false"));
    await waitFor(() => subscriptionEvents(events).length === 1, { what: "the denial" });
    expect(subscriptionEvents(events)).toEqual([
      { node, jid: sub.account.jid, subscription: "none" },
    ]);
    expect(await pendingState()).toBeNull();
    error = nextMessageError(client);
    await answer(client, fields("true"));
    expect(await error).toEqual(["item-not-found", undefined]);
    expect(eventItems(events)).toEqual([]);
  });

  it("decides a pending subscription once: a second answer is refused, the subscriber told once", async () => {
    const { account, client } = await user();
    const sub = await user();
    const node = `authz-twice-${account.user}`;
    await createNode(client, node, { "pubsub#access_model": "authorize" });
    await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), "latest"));
    const events = collectEvents(sub.client);
    const reply = await subscribe(sub.client, node, sub.account.jid);
    const subid = reply.getChild("pubsub")?.getChild("subscription")?.attrs.subid as string;
    const fields = {
      "pubsub#subid": subid,
      "pubsub#node": node,
      "pubsub#subscriber_jid": sub.account.jid,
      "pubsub#allow": "true",
    };
    const error = nextMessageError(client);
    await Promise.all([answer(client, fields), answer(client, fields)]);
    expect(await error).toEqual(["item-not-found", undefined]);
    await waitFor(() => eventItems(events).length >= 1, { what: "the last item after approval" });
    await sleep(300);
    expect(subscriptionEvents(events)).toEqual([
      { node, jid: sub.account.jid, subscription: "subscribed" },
    ]);
    expect(eventItems(events)).toHaveLength(1);
  });

  it("applies one of two concurrent decisions on a pending subscription (two owners at once)", async () => {
    const { account, client } = await user();
    const sub = await user();
    const node = `authz-race-${account.user}`;
    await createNode(client, node, { "pubsub#access_model": "authorize" });
    const reply = await subscribe(sub.client, node, sub.account.jid);
    const subid = reply.getChild("pubsub")?.getChild("subscription")?.attrs.subid as string;
    const store = new PubsubStore(redis, keys);
    // In one round trip each, so Redis runs them back to back: one allow, one deny.
    const decided = await Promise.all([
      store.decideSubscription(node, sub.account.jid, subid, true),
      store.decideSubscription(node, sub.account.jid, subid, false),
    ]);
    expect(decided).toEqual([true, false]);
    expect(await redis.hget(keys.psSubscriptions(node), sub.account.jid)).toMatch(/^subscribed /);
    expect(await redis.sismember(keys.psDeliver(node), sub.account.jid)).toBe(1);
    expect(await store.decideSubscription(node, sub.account.jid, "wrong-subid", false)).toBe(false);
  });

  it("advertises subscription notifications", async () => {
    const { client } = await user();
    const info = await get(client, xml("query", { xmlns: NS_DISCO_INFO }));
    expect(
      info
        .getChild("query")
        ?.getChildren("feature")
        .map((f) => f.attrs.var),
    ).toContain("http://jabber.org/protocol/pubsub#subscription-notifications");
  });
});

describe("node management", () => {
  it("configures, retracts with notify, purges and deletes with notifications", async () => {
    const { account, client } = await user();
    const node = `life-${account.user}`;
    await createNode(client, node, { "pubsub#title": "life" });
    expect(errorOf(await set(client, pubsub(xml("create", { node }))))).toEqual([
      "conflict",
      undefined,
    ]);
    await subscribe(client, node, account.jid);
    const events = collectEvents(client);
    await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), "a"));
    await set(client, publishIq(node, xml("n", { xmlns: "urn:x" }), "b"));
    expect(
      errorOf(
        await set(
          client,
          pubsub(xml("retract", { node, notify: "true" }, xml("item", { id: "a" }))),
        ),
      ),
    ).toBeUndefined();
    expect(
      errorOf(await set(client, pubsub(xml("retract", { node }, xml("item", { id: "a" }))))),
    ).toEqual(["item-not-found", undefined]);
    expect(errorOf(await set(client, owner(xml("purge", { node }))))).toBeUndefined();
    expect(await storedCount(node)).toBe(0);
    expect(errorOf(await set(client, owner(xml("delete", { node }))))).toBeUndefined();
    await waitFor(() => events.some((e) => e.getChild("event", NS_EVENT)?.getChild("delete")));
    const kinds = events.map((e) => {
      const event = e.getChild("event", NS_EVENT);
      const child = event?.getChildElements()[0];
      return child?.name === "items"
        ? (child.getChildElements()[0]?.name ?? "")
        : (child?.name ?? "");
    });
    expect(kinds).toEqual(["item", "item", "retract", "purge", "delete"]);
    expect(await redis.exists(keys.psNode(node))).toBe(0);
    expect(errorOf(await get(client, pubsub(xml("items", { node }))))).toEqual([
      "item-not-found",
      undefined,
    ]);
  });

  it("creates an instant node under a name it makes up and returns it", async () => {
    const { account, client } = await user();
    const nodesBefore = await redis.zcard(keys.psNodes());
    const reply = await set(
      client,
      pubsub(xml("create"), xml("configure", {}, form(CONFIG, { "pubsub#title": "instant" }))),
    );
    expect(errorOf(reply)).toBeUndefined();
    const node = reply.getChild("pubsub")?.getChild("create")?.attrs.node as string;
    expect(node).toMatch(/^[0-9a-f-]{36}$/);
    expect(await redis.hget(keys.psNode(node), "owner")).toBe(account.jid);
    expect(await redis.hget(keys.psNode(node), "title")).toBe("instant");
    const again = await set(client, pubsub(xml("create")));
    const other = again.getChild("pubsub")?.getChild("create")?.attrs.node;
    expect(other).toBeDefined();
    expect(other).not.toBe(node);
    expect(await redis.zcard(keys.psNodes())).toBeGreaterThanOrEqual(nodesBefore + 2);
    // A named create answers an empty result, as before.
    const named = await set(client, pubsub(xml("create", { node: `named-${account.user}` })));
    expect([named.attrs.type, named.getChildElements()]).toEqual(["result", []]);
    const info = await get(client, xml("query", { xmlns: NS_DISCO_INFO }));
    expect(
      info
        .getChild("query")
        ?.getChildren("feature")
        .map((f) => f.attrs.var),
    ).toContain("http://jabber.org/protocol/pubsub#instant-nodes");
  });

  it("rejects an invalid configuration and keeps the stored one", async () => {
    const { account, client } = await user();
    const other = await user();
    const node = `conf-${account.user}`;
    await createNode(client, node, { "pubsub#max_items": "7" });
    const bad = await set(
      client,
      owner(xml("configure", { node }, form(CONFIG, { "pubsub#max_items": "lots" }))),
    );
    expect(errorOf(bad)).toEqual(["not-acceptable", undefined]);
    const unknown = await set(
      client,
      owner(xml("configure", { node }, form(CONFIG, { "pubsub#bogus": "1" }))),
    );
    expect(errorOf(unknown)).toEqual(["not-acceptable", undefined]);
    expect(await redis.hget(keys.psNode(node), "max_items")).toBe("7");
    const notOwner = await set(
      other.client,
      owner(xml("configure", { node }, form(CONFIG, { "pubsub#max_items": "3" }))),
    );
    expect(errorOf(notOwner)).toEqual(["forbidden", undefined]);
    expect(
      errorOf(
        await set(
          client,
          owner(xml("configure", { node }, form(CONFIG, { "pubsub#max_items": "3" }))),
        ),
      ),
    ).toBeUndefined();
    expect(await redis.hget(keys.psNode(node), "max_items")).toBe("3");
    const lastOwner = await set(
      client,
      owner(
        xml(
          "affiliations",
          { node },
          xml("affiliation", { jid: account.jid, affiliation: "none" }),
        ),
      ),
    );
    expect(errorOf(lastOwner)).toEqual(["not-acceptable", undefined]);
  });

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

  it("answers disco#info on the service and on nodes with metadata", async () => {
    const { account, client } = await user();
    const node = `disco-${account.user}`;
    await createNode(client, node, { "pubsub#title": "hello" });
    const info = await get(client, xml("query", { xmlns: NS_DISCO_INFO }));
    const q = info.getChild("query");
    expect(q?.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`)).toContain(
      "pubsub/service",
    );
    expect(q?.getChildren("feature").map((f) => f.attrs.var)).toEqual(
      expect.arrayContaining([
        "http://jabber.org/protocol/pubsub",
        "http://jabber.org/protocol/pubsub#publish",
      ]),
    );
    const nodeInfo = await get(client, xml("query", { xmlns: NS_DISCO_INFO, node }));
    const fields = nodeInfo.getChild("query")?.getChild("x")?.getChildren("field") ?? [];
    const value = (name: string) => fields.find((f) => f.attrs.var === name)?.getChildText("value");
    expect(value("FORM_TYPE")).toBe("http://jabber.org/protocol/pubsub#meta-data");
    expect(value("pubsub#title")).toBe("hello");
    expect(value("pubsub#owner")).toBe(account.jid);
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
