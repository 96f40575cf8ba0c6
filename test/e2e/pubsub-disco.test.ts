/**
 * The service in disco (XEP-0060 §5): the alertpublishers inventory of agent
 * nodes, XEP-0059 pages of disco#items (the service, alertpublishers, a
 * node's items), and disco#info with node metadata.
 */
import { type Client, xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import { check, errorOf, NS_RSM, publishIq, type Xml } from "../helpers/pubsub.js";
import {
  createNode,
  DISCO_PAGE,
  get,
  keys,
  NS_DISCO_INFO,
  NS_DISCO_ITEMS,
  reader,
  redis,
  serviceFeatures,
  set,
  stack,
  startPubsubSuite,
  user,
} from "../helpers/pubsub-suite.js";

startPubsubSuite("pubsub-disco");

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

describe("the agent inventory (alertpublishers)", () => {
  it("lists every agent node under alertpublishers by disco#items", async () => {
    const agents = [await user(), await user()];
    for (const a of agents) await set(a.client, publishIq(`agents/${a.account.jid}`, check(1)));
    // The agent inventory is for pubsub.subscribers and admins (pubsub-limits.test.ts: others).
    const client = await stack.client(reader);
    const { names } = await discoItems(client, "alertpublishers");
    for (const a of agents) expect(names).toContain(`agents/${a.account.jid}`);
    expect((await discoItems(client, "")).names).toContain("alertpublishers");
    await client.stop();
  });
});

describe("disco#items paging (XEP-0059)", () => {
  // An inventory longer than one page whatever these tests publish (in one
  // file with the agent-node tests, as this was, those made it so).
  beforeAll(async () => {
    for (let i = 0; i < DISCO_PAGE; i++) {
      const agent = await user();
      await set(agent.client, publishIq(`agents/${agent.account.jid}`, check(1)));
    }
  });

  it("pages alertpublishers forwards, backwards and by index in the order of the full listing", async () => {
    const agents = [await user(), await user(), await user()];
    for (const a of agents) await set(a.client, publishIq(`agents/${a.account.jid}`, check(1)));
    const client = await stack.client(reader);
    const full = await redis.zrange(keys.psAgents(), 0, -1);
    expect(full.length).toBeGreaterThan(DISCO_PAGE);
    // Without <set/>: the first page, and an unsolicited <set/> saying the listing was cut.
    const plain = await discoItems(client, "alertpublishers");
    expect([plain.names, plain.count, plain.firstIndex, plain.last]).toEqual([
      full.slice(0, DISCO_PAGE),
      full.length,
      "0",
      full[DISCO_PAGE - 1],
    ]);

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
    await client.stop();
  });

  it("lists the service's nodes after alertpublishers, in pages, and marks a listing it cut", async () => {
    const { account, client } = await user();
    for (let i = 0; i < DISCO_PAGE + 1; i++) await createNode(client, `list-${i}-${account.user}`);
    // A plain account's listing leaves out the agent nodes (pubsub-limits.test.ts).
    const all = [
      "alertpublishers",
      ...(await redis.zrange(`${stack.prefix}ps:plain-nodes`, 0, -1)),
    ];
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
    const client = await stack.client(reader);
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
    expect(await serviceFeatures(client)).toContain(NS_RSM);
    await client.stop();
  });
});

describe("disco#info", () => {
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
