/**
 * Reply size limits, RSM paging by default, node creation policy, quotas and
 * the component's reserved nodes (issue 18, items 1 and 2 and two lows), on a
 * real ejabberd whose component listener closes the stream on a stanza over
 * its max_stanza_size (1 MiB).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Client, xml } from "@xmpp/client";
import yaml from "js-yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { componentEnv, componentSchema, loadConfig } from "../../src/config/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { ejabberdYaml } from "../../src/stack/index.js";
import { Keys, type Redis } from "../../src/store/index.js";
import {
  available,
  check,
  errorOf,
  form,
  iq,
  NS_RSM,
  owner,
  publishIq,
  pubsub,
  type Xml,
} from "../helpers/pubsub.js";
import { type Account, useStack } from "../helpers/stack.js";

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const CONFIG = "http://jabber.org/protocol/pubsub#node_config";
/** The defaults: 64 KiB payloads, 256 KiB replies. */
const PAYLOAD = 60_000;
const REPLY = 262_144;

const stack = useStack("pubsub-limits");
let component: RunningComponent;
let redis: Redis;
let keys: Keys;
let service: string;
let admin: Account;
let reader: Account;
let creator: Account;

beforeAll(async () => {
  admin = await stack.account("limits-admin");
  reader = await stack.account("limits-reader");
  creator = await stack.account("limits-creator");
  component = await stack.startComponent({
    pubsub: {
      admins: [admin.jid],
      subscribers: [reader.jid],
      creators: [creator.jid],
      maxNodesPerJid: 2,
      maxSubscriptionsPerJid: 3,
      maxSubscribersPerNode: 3,
    },
  });
  redis = stack.redis();
  keys = new Keys(stack.prefix);
  service = stack.componentJid;
});

const online = new Map<string, Client>();

/** An online client of `account` (one per account: a second session would replace the first), or of a new account. */
async function user(account?: Account): Promise<{ account: Account; client: Client }> {
  const who = account ?? (await stack.account());
  let client = online.get(who.jid);
  if (!client) {
    client = await stack.client(who);
    await available(client);
    online.set(who.jid, client);
  }
  return { account: who, client };
}

const set = (c: Client, payload: Xml) => iq(c, service, "set", payload);
const get = (c: Client, payload: Xml) => iq(c, service, "get", payload);
const rsm = (...children: Xml[]) => xml("set", { xmlns: NS_RSM }, ...children);

/** An IQ get with a chosen (long) id: the reply echoes it, so it counts against the reply limit. */
const getWithId = (c: Client, id: string, payload: Xml) => iq(c, service, "get", payload, { id });

const big = (i: number) => xml("blob", { xmlns: "urn:x", n: String(i) }, "x".repeat(PAYLOAD));

function itemsOf(reply: Xml) {
  const p = reply.getChild("pubsub");
  const page = p?.getChild("set", NS_RSM);
  return {
    ids: (p?.getChild("items")?.getChildren("item") ?? []).map((i) => i.attrs.id as string),
    count: page ? Number(page.getChildText("count")) : undefined,
    firstIndex: page?.getChild("first")?.attrs.index as string | undefined,
    first: page?.getChildText("first") ?? undefined,
    last: page?.getChildText("last") ?? undefined,
  };
}

/** The reply as ejabberd relays it, in bytes (the component sent the same, with its own addressing). */
const bytes = (stanza: Xml) => Buffer.byteLength(stanza.toString());

describe("replies are capped by bytes and paged (XEP-0059)", () => {
  let client: Client;
  let node: string;
  const ids = Array.from({ length: 20 }, (_, i) => `big${String(i).padStart(2, "0")}`);

  beforeAll(async () => {
    ({ client } = await user(creator));
    node = `big-${creator.user}`;
    expect(errorOf(await set(client, pubsub(xml("create", { node }))))).toBeUndefined();
    for (const [i, id] of ids.entries())
      expect(errorOf(await set(client, publishIq(node, big(i), id)))).toBeUndefined();
  });

  it("fetches 20 large items in pages within the limit, the component staying connected", async () => {
    // All 20 at once would be ~1.2 MB: ejabberd would close the component's stream.
    const first = await get(client, pubsub(xml("items", { node })));
    expect(errorOf(first)).toBeUndefined();
    expect(bytes(first)).toBeLessThan(REPLY);
    const page = itemsOf(first);
    expect(page.ids.length).toBeGreaterThan(0);
    expect(page.ids.length).toBeLessThan(20);
    expect(page.ids).toEqual(ids.slice(0, page.ids.length));
    expect([page.count, page.firstIndex, page.last]).toEqual([20, "0", page.ids.at(-1)]);

    const all = [...page.ids];
    let after = page.last;
    while (all.length < 20) {
      const next = await get(
        client,
        pubsub(xml("items", { node }), rsm(xml("after", {}, after as string))),
      );
      expect(errorOf(next)).toBeUndefined();
      expect(bytes(next)).toBeLessThan(REPLY);
      const more = itemsOf(next);
      expect(more.ids.length).toBeGreaterThan(0);
      expect(more.firstIndex).toBe(String(all.length));
      all.push(...more.ids);
      after = more.last;
    }
    expect(all).toEqual(ids);
    // Still online: a normal request is answered.
    const info = await get(client, xml("query", { xmlns: NS_DISCO_INFO }));
    expect(errorOf(info)).toBeUndefined();
    const one = await get(client, pubsub(xml("items", { node }, xml("item", { id: ids[3] }))));
    expect(itemsOf(one).ids).toEqual([ids[3]]);
  });

  it("returns the newest max_items that fit, with a <set/> to page back from (§6.5.7)", async () => {
    const reply = await get(client, pubsub(xml("items", { node, max_items: "20" })));
    expect(bytes(reply)).toBeLessThan(REPLY);
    const page = itemsOf(reply);
    expect(page.ids).toEqual(ids.slice(20 - page.ids.length));
    expect(page.ids.length).toBeLessThan(20);
    expect([page.count, page.firstIndex]).toEqual([20, String(20 - page.ids.length)]);
    const back = await get(
      client,
      pubsub(xml("items", { node }), rsm(xml("max", {}, "2"), xml("before", {}, page.first ?? ""))),
    );
    expect(itemsOf(back).ids).toEqual(ids.slice(18 - page.ids.length, 20 - page.ids.length));
    // A page that fits keeps the old shape: no <set/>.
    const two = itemsOf(await get(client, pubsub(xml("items", { node, max_items: "2" }))));
    expect([two.ids, two.count]).toEqual([ids.slice(18), undefined]);
  });

  it("cuts an RSM page asking for more than fits, and refuses by-id requests that do not fit", async () => {
    const page = itemsOf(
      await get(client, pubsub(xml("items", { node }), rsm(xml("max", {}, "20")))),
    );
    expect(page.ids.length).toBeLessThan(20);
    const byId = await get(
      client,
      pubsub(xml("items", { node }, ...ids.map((id) => xml("item", { id })))),
    );
    expect(errorOf(byId)).toEqual(["policy-violation", undefined]);
  });

  it("answers policy-violation when one item alone cannot fit in the reply", async () => {
    // The reply echoes the id: 230,000 characters of it leave less than one item's room.
    const reply = await getWithId(client, "i".repeat(230_000), pubsub(xml("items", { node })));
    expect(errorOf(reply)).toEqual(["policy-violation", undefined]);
    expect(errorOf(await get(client, xml("query", { xmlns: NS_DISCO_INFO })))).toBeUndefined();
  });

  it("cuts disco#items on a node to the limit and marks the cut with a <set/>", async () => {
    const nodeIds = `ids-${creator.user}`;
    expect(errorOf(await set(client, pubsub(xml("create", { node: nodeIds }))))).toBeUndefined();
    const longIds = Array.from(
      { length: 30 },
      (_, i) => `${String(i).padStart(2, "0")}${"y".repeat(250)}`,
    );
    for (const id of longIds)
      await set(client, publishIq(nodeIds, xml("n", { xmlns: "urn:x" }), id));
    const query = xml("query", { xmlns: NS_DISCO_ITEMS, node: nodeIds });
    // An id of 254,000 characters leaves a few KB: fewer than 30 ids of 252 characters.
    const reply = await getWithId(client, "d".repeat(254_000), query);
    expect(errorOf(reply)).toBeUndefined();
    expect(bytes(reply)).toBeLessThan(REPLY);
    const q = reply.getChild("query");
    const names = (q?.getChildren("item") ?? []).map((i) => i.attrs.name as string);
    expect(names.length).toBeGreaterThan(0);
    expect(names.length).toBeLessThan(30);
    expect(names).toEqual(longIds.slice(0, names.length));
    const page = q?.getChild("set", NS_RSM);
    expect([page?.getChildText("count"), page?.getChildText("last")]).toEqual(["30", names.at(-1)]);
  });
});

describe("node creation and quotas", () => {
  it("lets an account create only its own agent node unless it is a creator or an admin", async () => {
    const stranger = await user();
    const refused = await set(stranger.client, pubsub(xml("create", { node: "mine" })));
    expect(errorOf(refused)).toEqual(["forbidden", undefined]);
    expect(await redis.exists(keys.psNode("mine"))).toBe(0);
    const instant = await set(stranger.client, pubsub(xml("create")));
    expect(errorOf(instant)).toEqual(["forbidden", undefined]);
    const own = await set(
      stranger.client,
      pubsub(xml("create", { node: `agents/${stranger.account.jid}` })),
    );
    expect(errorOf(own)).toBeUndefined();
  });

  it("refuses a creator's node beyond maxNodesPerJid with not-allowed + max-nodes-exceeded", async () => {
    const { client } = await user(creator);
    // The creator made two nodes above ("big-…", "ids-…"): its quota is 2.
    const third = await set(client, pubsub(xml("create", { node: `third-${creator.user}` })));
    expect(errorOf(third)).toEqual(["not-allowed", "max-nodes-exceeded"]);
    expect(await redis.exists(keys.psNode(`third-${creator.user}`))).toBe(0);
    expect(
      errorOf(await set(client, owner(xml("delete", { node: `ids-${creator.user}` })))),
    ).toBeUndefined();
    expect(
      errorOf(await set(client, pubsub(xml("create", { node: `third-${creator.user}` })))),
    ).toBeUndefined();
    // Admins are not limited.
    const { client: adminClient } = await user(admin);
    for (let i = 0; i < 3; i++)
      expect(
        errorOf(await set(adminClient, pubsub(xml("create", { node: `admin-${i}` })))),
      ).toBeUndefined();
  });

  it("bounds subscriptions per JID (all resources) and per node with policy-violation + too-many-subscriptions", async () => {
    const { client: adminClient } = await user(admin);
    const open = (n: string) =>
      set(adminClient, pubsub(xml("create", { node: n }), xml("configure", {}, form(CONFIG, {}))));
    for (const n of ["q1", "q2", "q3", "q4"]) expect(errorOf(await open(n))).toBeUndefined();
    const sub = await user();
    const subscribe = (node: string, jid: string) =>
      set(sub.client, pubsub(xml("subscribe", { node, jid })));
    const me = sub.account.jid;
    // Each resource's subscription counts for the bare JID: three, then refused.
    for (const resource of ["a", "b", "c"])
      expect(errorOf(await subscribe("q1", `${me}/${resource}`))).toBeUndefined();
    expect(errorOf(await subscribe("q2", `${me}/a`))).toEqual([
      "policy-violation",
      "too-many-subscriptions",
    ]);
    // Re-subscribing an existing subscription is not a new one.
    expect(errorOf(await subscribe("q1", `${me}/a`))).toBeUndefined();
    expect(await redis.hlen(keys.psSubscriptions("q2"))).toBe(0);

    // Per node: three subscriptions, then refused, whoever asks (admins excepted).
    for (let i = 0; i < 4; i++) {
      const other = await user();
      const reply = await set(
        other.client,
        pubsub(xml("subscribe", { node: "q3", jid: other.account.jid })),
      );
      expect(errorOf(reply)).toEqual(
        i < 3 ? undefined : ["policy-violation", "too-many-subscriptions"],
      );
    }
    expect(await redis.scard(keys.psDeliver("q3"))).toBe(3);

    // The component's own nodes (the modules index: every agent of the fleet) have no per-node cap.
    await component.pubsub.ensureNode("fleet-wide", { accessModel: "open" });
    for (let i = 0; i < 4; i++) {
      const other = await user();
      const reply = await set(
        other.client,
        pubsub(xml("subscribe", { node: "fleet-wide", jid: other.account.jid })),
      );
      expect(errorOf(reply)).toBeUndefined();
    }

    // A configured subscriber (alertbot) follows more nodes than the per-JID quota.
    const { client: readerClient } = await user(reader);
    for (const n of ["q2", "q4", "admin-0", "admin-1"])
      expect(
        errorOf(await set(readerClient, pubsub(xml("subscribe", { node: n, jid: reader.jid })))),
      ).toBeUndefined();
  });

  it("pages a subscription list", async () => {
    const { client: adminClient } = await user(admin);
    const reply = await get(
      adminClient,
      owner(xml("subscriptions", { node: "q1" }), rsm(xml("max", {}, "2"))),
    );
    const p = reply.getChild("pubsub");
    const jids = (p?.getChild("subscriptions")?.getChildren("subscription") ?? []).map(
      (s) => s.attrs.jid as string,
    );
    expect(jids).toHaveLength(2);
    const page = p?.getChild("set", NS_RSM);
    expect(Number(page?.getChildText("count"))).toBe(3); // the three resources
    const rest = await get(
      adminClient,
      owner(xml("subscriptions", { node: "q1" }), rsm(xml("after", {}, jids[1] as string))),
    );
    const more = (
      rest.getChild("pubsub")?.getChild("subscriptions")?.getChildren("subscription") ?? []
    ).map((s) => s.attrs.jid as string);
    expect([...jids, ...more].sort()).toEqual(
      (await redis.hkeys(keys.psSubscriptions("q1"))).sort(),
    );
  });
});

describe("the agent inventory and the component's nodes", () => {
  it("lists alertpublishers to subscribers and admins only", async () => {
    const agent = await user();
    await set(agent.client, publishIq(`agents/${agent.account.jid}`, check(1)));
    const query = xml("query", { xmlns: NS_DISCO_ITEMS, node: "alertpublishers" });
    const stranger = await user();
    expect(errorOf(await get(stranger.client, query))).toEqual(["not-allowed", "closed-node"]);
    for (const who of [reader, admin]) {
      const { client } = await user(who);
      const nodes = (await get(client, query))
        .getChild("query")
        ?.getChildren("item")
        .map((i) => i.attrs.node);
      expect(nodes).toContain(`agents/${agent.account.jid}`);
    }
    // Nor does the service's own listing show a stranger the agent nodes (pages of all nodes).
    const listing = async (c: Client) => {
      const nodes: string[] = [];
      let after: string | undefined;
      for (;;) {
        const reply = await get(
          c,
          xml("query", { xmlns: NS_DISCO_ITEMS }, rsm(...(after ? [xml("after", {}, after)] : []))),
        );
        const q = reply.getChild("query");
        const page = (q?.getChildren("item") ?? []).map((i) => i.attrs.node as string);
        nodes.push(...page);
        after = q?.getChild("set", NS_RSM)?.getChildText("last") ?? undefined;
        if (
          page.length === 0 ||
          nodes.length >= Number(q?.getChild("set", NS_RSM)?.getChildText("count"))
        )
          return nodes;
      }
    };
    const seen = await listing(stranger.client);
    expect(seen).toContain("alertpublishers");
    expect(seen).toContain("q1");
    expect(seen.filter((n) => n.startsWith("agents/"))).toEqual([]);
    expect(await listing((await user(reader)).client)).toContain(`agents/${agent.account.jid}`);
  });

  it("indexes the non-agent nodes of an older jabmon once, for that listing", async () => {
    const plain = `${stack.prefix}ps:plain-nodes`;
    const before = await redis.zrange(plain, 0, -1);
    expect(before).toContain("q1");
    // As a Redis written by an older jabmon: no index, no marker.
    await redis.del(plain, `${stack.prefix}ps:plain-nodes-indexed`);
    expect(await component.pubsub.store.indexPlainNodes()).toBe(before.length);
    expect(await redis.zrange(plain, 0, -1)).toEqual(before);
    expect(await component.pubsub.store.indexPlainNodes()).toBe(0);
  });

  it("keeps the alerts node from being taken over after an operator deletes it", async () => {
    const { client: adminClient } = await user(admin);
    expect(
      errorOf(await set(adminClient, owner(xml("delete", { node: "alerts" })))),
    ).toBeUndefined();
    for (const who of [creator, (await user()).account]) {
      const { client } = await user(who);
      expect(errorOf(await set(client, pubsub(xml("create", { node: "alerts" }))))).toEqual([
        "conflict",
        undefined,
      ]);
    }
    expect(await redis.exists(keys.psNode("alerts"))).toBe(0);
    // The component makes it again (the alert sink does this on its next alert).
    expect(await component.pubsub.ensureNode("alerts")).toBe(true);
    expect(await redis.hget(keys.psNode("alerts"), "owner")).toBe(service);
    // One taken over before this fix (another owner stored) is recreated as the component's.
    await redis.hset(keys.psNode("alerts"), "owner", creator.jid);
    expect(await component.pubsub.ensureNode("alerts")).toBe(true);
    expect(await redis.hget(keys.psNode("alerts"), "owner")).toBe(service);
  });
});

describe("ejabberd shapers", () => {
  type Yaml = Record<string, unknown> & {
    shaper?: Record<string, unknown>;
    shaper_rules?: Record<string, unknown>;
    listen?: Array<Record<string, unknown>>;
  };
  const configs: Array<[string, Yaml]> = [
    [
      "ejabberd.yml",
      yaml.load(readFileSync(join(import.meta.dirname, "../../ejabberd.yml"), "utf8")) as Yaml,
    ],
    [
      "docker/ejabberd.yml",
      yaml.load(
        readFileSync(join(import.meta.dirname, "../../docker/ejabberd.yml"), "utf8"),
      ) as Yaml,
    ],
    [
      "the test/demo stack",
      yaml.load(
        ejabberdYaml({
          domain: "localhost",
          c2sPort: 1,
          componentPort: 2,
          componentJid: "monitor.localhost",
          componentPassword: "p",
          bindIp: "127.0.0.1",
        }),
      ) as Yaml,
    ],
  ];
  it.each(configs)("%s shapes c2s and the component listener with defined shapers", (_, config) => {
    const rules = config.shaper_rules ?? {};
    const c2s = config.listen?.find((l) => l.module === "ejabberd_c2s");
    const component = config.listen?.find((l) => l.module === "ejabberd_service");
    expect(c2s?.shaper).toBe("c2s_shaper");
    expect(component?.shaper_rule).toBe("component_shaper");
    const c2sRule = rules.c2s_shaper;
    const shapers = Object.keys(config.shaper ?? {});
    // A rule is a shaper name or {shaper: acl}; "none" is no shaping for everyone.
    const named = typeof c2sRule === "string" ? [c2sRule] : Object.keys(c2sRule as object);
    expect(named.filter((n) => n !== "none").length).toBeGreaterThan(0);
    for (const n of named) if (n !== "none") expect(shapers).toContain(n);
    expect(shapers).toContain(rules.component_shaper);
  });
});

describe("configuration", () => {
  const load = (env: Record<string, string>) =>
    loadConfig(componentSchema, {
      envMap: componentEnv,
      env: { JABMON_COMPONENT_PASSWORD: "k3Jx9qPz2Lm4Vb7Nw8Rt", ...env },
    });

  it("has documented defaults and refuses a reply limit one item cannot fit in, naming the key", () => {
    const config = load({});
    expect(config.pubsub).toMatchObject({
      maxReplyBytes: 262_144,
      creators: [],
      maxNodesPerJid: 20,
      maxSubscriptionsPerJid: 100,
      maxSubscribersPerNode: 1000,
    });
    const doc = readFileSync(join(import.meta.dirname, "../../docs/pubsub.md"), "utf8");
    for (const key of [
      "maxReplyBytes",
      "creators",
      "maxNodesPerJid",
      "maxSubscriptionsPerJid",
      "maxSubscribersPerNode",
    ])
      expect(doc).toContain(`| \`${key}\` |`);
    expect(() =>
      loadConfig(componentSchema, {
        envMap: componentEnv,
        env: { JABMON_COMPONENT_PASSWORD: "k3Jx9qPz2Lm4Vb7Nw8Rt" },
        overrides: { "pubsub.maxReplyBytes": "20000" },
      }),
    ).toThrow(/pubsub\.maxReplyBytes: must be at least pubsub\.maxPayloadBytes \+ 8192/);
    expect(() =>
      loadConfig(componentSchema, {
        envMap: componentEnv,
        env: { JABMON_COMPONENT_PASSWORD: "k3Jx9qPz2Lm4Vb7Nw8Rt" },
        overrides: { "pubsub.maxReplyBytes": "2000000" },
      }),
    ).toThrow(/pubsub\.maxReplyBytes/);
    expect(
      load({ JABMON_PUBSUB_CREATORS: "ops@example.org, @example.org" }).pubsub.creators,
    ).toEqual(["ops@example.org", "@example.org"]);
    expect(() => load({ JABMON_PUBSUB_CREATORS: "not a jid" })).toThrow(/pubsub\.creators\.0/);
  });
});
