/**
 * The per-owner quota on stored items and bytes (issue 18, item 2): what the
 * nodes one bare JID owns store, over all of them, is bounded; accounting
 * follows every way an item goes (retract, purge, delete, max_items eviction,
 * item_expire, a replaced id, configure). Real ejabberd, real Redis.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Client, xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import { componentEnv, componentSchema, loadConfig } from "../../src/config/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { Keys, type Redis } from "../../src/store/index.js";
import {
  available,
  check,
  errorOf,
  form,
  iq,
  NS_JABMON,
  owner,
  publishIq,
  pubsub,
  type Xml,
} from "../helpers/pubsub.js";
import { type Account, useStack } from "../helpers/stack.js";

const CONFIG = "http://jabber.org/protocol/pubsub#node_config";
const MAX_ITEMS = 6;
const MAX_BYTES = 40_000;

const stack = useStack("pubsub-quota");
let component: RunningComponent;
let redis: Redis;
let keys: Keys;
let service: string;
let admin: Account;
let creator: Account;

beforeAll(async () => {
  admin = await stack.account("quota-admin");
  creator = await stack.account("quota-creator");
  component = await stack.startComponent({
    pubsub: {
      admins: [admin.jid],
      creators: [creator.jid],
      maxPayloadBytes: 8192,
      maxItemsPerJid: MAX_ITEMS,
      maxBytesPerJid: MAX_BYTES,
    },
  });
  redis = stack.redis();
  keys = new Keys(stack.prefix);
  service = stack.componentJid;
});

const online = new Map<string, Client>();
async function clientOf(account: Account): Promise<Client> {
  let client = online.get(account.jid);
  if (!client) {
    client = await stack.client(account);
    await available(client);
    online.set(account.jid, client);
  }
  return client;
}

const set = (c: Client, payload: Xml) => iq(c, service, "set", payload);
const note = (text: string) => xml("note", { xmlns: "urn:x" }, text);
const configure = (node: string, fields: Record<string, string>) =>
  owner(xml("configure", { node }, form(CONFIG, fields)));

/** The owner's usage as the component keeps it. */
const usage = (jid: string) => component.pubsub.store.usage(jid);

/** What the owner's nodes hold, counted from Redis itself (ids and records), to compare with. */
async function truth(nodes: string[]): Promise<{ items: number; bytes: number }> {
  let items = 0;
  let bytes = 0;
  for (const node of nodes) {
    const data = await redis.hgetall(keys.psItemData(node));
    for (const [id, rec] of Object.entries(data)) {
      items += 1;
      bytes += Buffer.byteLength(id) + Buffer.byteLength(rec);
    }
  }
  return { items, bytes };
}

/** The quota refusal: resource-constraint, type wait, <quota-exceeded resource/>. */
function quotaRefusal(reply: Xml) {
  const error = reply.getChild("error");
  return {
    condition: errorOf(reply)?.[0],
    type: error?.attrs.type as string | undefined,
    resource: error?.getChild("quota-exceeded", NS_JABMON)?.attrs.resource as string | undefined,
  };
}

describe("the per-owner item quota", () => {
  const a = () => `qa-${creator.user}`;
  const b = () => `qb-${creator.user}`;

  beforeAll(async () => {
    const c = await clientOf(creator);
    for (const node of [a(), b()])
      expect(errorOf(await set(c, pubsub(xml("create", { node }))))).toBeUndefined();
  });

  it("counts the items of all the owner's nodes together and refuses the one past the quota, storing nothing", async () => {
    const c = await clientOf(creator);
    for (let i = 0; i < 3; i++) {
      expect(errorOf(await set(c, publishIq(a(), note(`a${i}`), `a${i}`)))).toBeUndefined();
      expect(errorOf(await set(c, publishIq(b(), note(`b${i}`), `b${i}`)))).toBeUndefined();
    }
    expect(await usage(creator.jid)).toEqual(await truth([a(), b()]));
    expect((await usage(creator.jid)).items).toBe(MAX_ITEMS);

    const seqBefore = await redis.hget(keys.psNode(b()), "seq");
    const refused = await set(c, publishIq(b(), note("one too many"), "b3"));
    expect(quotaRefusal(refused)).toEqual({
      condition: "resource-constraint",
      type: "wait",
      resource: "items",
    });
    expect(await redis.hexists(keys.psItemData(b()), "b3")).toBe(0);
    expect(await redis.hget(keys.psNode(b()), "seq")).toBe(seqBefore);
    expect((await usage(creator.jid)).items).toBe(MAX_ITEMS);
  });

  it("takes a publish that replaces an item (same id) at the quota: it adds no item", async () => {
    const c = await clientOf(creator);
    expect(
      errorOf(await set(c, publishIq(a(), note("a0, again and longer"), "a0"))),
    ).toBeUndefined();
    expect(await usage(creator.jid)).toEqual(await truth([a(), b()]));
  });

  it("frees room on retract, and the refused publish then goes through", async () => {
    const c = await clientOf(creator);
    const retracted = await set(
      c,
      pubsub(xml("retract", { node: b() }, xml("item", { id: "b0" }))),
    );
    expect(errorOf(retracted)).toBeUndefined();
    expect((await usage(creator.jid)).items).toBe(MAX_ITEMS - 1);
    expect(errorOf(await set(c, publishIq(b(), note("now it fits"), "b3")))).toBeUndefined();
    expect(await usage(creator.jid)).toEqual(await truth([a(), b()]));
  });

  it("never refuses a full node whose max_items drops the oldest item for the new one", async () => {
    const c = await clientOf(creator);
    expect(errorOf(await set(c, configure(b(), { "pubsub#max_items": "3" })))).toBeUndefined();
    for (let i = 4; i < 12; i++)
      expect(errorOf(await set(c, publishIq(b(), note(`b${i}`), `b${i}`)))).toBeUndefined();
    expect(await redis.hlen(keys.psItemData(b()))).toBe(3);
    expect(await usage(creator.jid)).toEqual(await truth([a(), b()]));
  });

  it("releases what a lower max_items trims, a purge and a delete", async () => {
    const c = await clientOf(creator);
    expect(errorOf(await set(c, configure(b(), { "pubsub#max_items": "1" })))).toBeUndefined();
    expect(await usage(creator.jid)).toEqual(await truth([a(), b()]));
    expect((await usage(creator.jid)).items).toBe(4);
    expect(errorOf(await set(c, owner(xml("purge", { node: a() }))))).toBeUndefined();
    expect(await usage(creator.jid)).toEqual(await truth([b()]));
    expect(errorOf(await set(c, owner(xml("delete", { node: b() }))))).toBeUndefined();
    // Nothing stored: no usage left behind either.
    expect(await redis.exists(keys.psUsage(creator.jid))).toBe(0);
    expect(await usage(creator.jid)).toEqual({ items: 0, bytes: 0 });
  });

  it("releases items that age out (pubsub#item_expire) and those dropped by persist_items off", async () => {
    const c = await clientOf(creator);
    for (let i = 0; i < 3; i++)
      expect(errorOf(await set(c, publishIq(a(), note(`e${i}`), `e${i}`)))).toBeUndefined();
    expect((await usage(creator.jid)).items).toBe(3);
    expect(errorOf(await set(c, configure(a(), { "pubsub#item_expire": "1" })))).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await component.pubsub.sweep()).toBeGreaterThanOrEqual(3);
    expect(await usage(creator.jid)).toEqual({ items: 0, bytes: 0 });

    expect(errorOf(await set(c, configure(a(), { "pubsub#item_expire": "0" })))).toBeUndefined();
    expect(errorOf(await set(c, publishIq(a(), note("kept"), "k0")))).toBeUndefined();
    expect((await usage(creator.jid)).items).toBe(1);
    const off = configure(a(), { "pubsub#persist_items": "0" });
    expect(errorOf(await set(c, off))).toBeUndefined();
    expect(await usage(creator.jid)).toEqual({ items: 0, bytes: 0 });
  });
});

describe("the per-owner byte quota", () => {
  it("refuses a publish that would take the owner's bytes past the quota, naming bytes", async () => {
    const c = await clientOf(creator);
    const node = `qbig-${creator.user}`;
    expect(errorOf(await set(c, pubsub(xml("create", { node }))))).toBeUndefined();
    // 8,000-byte payloads: four fit in 40,000 bytes, the fifth does not.
    const big = (i: number) => xml("blob", { xmlns: "urn:x", n: String(i) }, "x".repeat(7950));
    for (let i = 0; i < 4; i++)
      expect(errorOf(await set(c, publishIq(node, big(i), `big${i}`)))).toBeUndefined();
    const used = await usage(creator.jid);
    expect(used).toEqual(await truth([node]));
    expect(used.bytes).toBeGreaterThan(4 * 8000);
    expect(quotaRefusal(await set(c, publishIq(node, big(4), "big4")))).toEqual({
      condition: "resource-constraint",
      type: "wait",
      resource: "bytes",
    });
    expect(await usage(creator.jid)).toEqual(used);
    // A small item still fits.
    expect(errorOf(await set(c, publishIq(node, note("small"), "small")))).toBeUndefined();
    expect(errorOf(await set(c, owner(xml("delete", { node }))))).toBeUndefined();
    expect(await usage(creator.jid)).toEqual({ items: 0, bytes: 0 });
  });
});

describe("agents and privileged owners", () => {
  it("never refuses an agent whose node keeps a bounded number of results", async () => {
    const agent = await stack.account();
    const c = await clientOf(agent);
    const node = `agents/${agent.jid}`;
    expect(errorOf(await set(c, publishIq(node, check(1))))).toBeUndefined();
    expect(errorOf(await set(c, configure(node, { "pubsub#max_items": "4" })))).toBeUndefined();
    for (let seq = 2; seq <= 3 * MAX_ITEMS; seq++)
      expect(errorOf(await set(c, publishIq(node, check(seq))))).toBeUndefined();
    expect(await usage(agent.jid)).toEqual(await truth([node]));
    expect((await usage(agent.jid)).items).toBe(4);
  });

  it("refuses an agent's result past its quota before anything reaches the monitor, and takes the same seq later", async () => {
    const agent = await stack.account();
    const c = await clientOf(agent);
    const node = `agents/${agent.jid}`;
    for (let seq = 1; seq <= MAX_ITEMS; seq++)
      expect(errorOf(await set(c, publishIq(node, check(seq))))).toBeUndefined();
    const refused = await set(c, publishIq(node, check(MAX_ITEMS + 1)));
    expect(quotaRefusal(refused).condition).toBe("resource-constraint");
    // The seq was not recorded: after room is made it is stored, not taken for a replay.
    const retracted = await set(c, pubsub(xml("retract", { node }, xml("item", { id: "s1" }))));
    expect(errorOf(retracted)).toBeUndefined();
    expect(errorOf(await set(c, publishIq(node, check(MAX_ITEMS + 1))))).toBeUndefined();
    expect(await redis.hexists(keys.psItemData(node), `s${MAX_ITEMS + 1}`)).toBe(1);
    expect(await redis.hget(keys.psNode(node), "agentSeq")).toBe(String(MAX_ITEMS + 1));
  });

  it("creates no agent node for a first result refused by the quota", async () => {
    const agent = await stack.account();
    const c = await clientOf(agent);
    const other = `agents/${agent.jid}`;
    // Fill this agent's quota through a node an admin made it own.
    const adminClient = await clientOf(admin);
    const side = `side-${agent.user}`;
    expect(errorOf(await set(adminClient, pubsub(xml("create", { node: side }))))).toBeUndefined();
    await redis.hset(keys.psNode(side), "owner", agent.jid);
    for (let i = 0; i < MAX_ITEMS; i++)
      expect(
        errorOf(await set(adminClient, publishIq(side, note(`n${i}`), `n${i}`))),
      ).toBeUndefined();
    expect((await usage(agent.jid)).items).toBe(MAX_ITEMS);
    const first = await set(c, publishIq(other, check(1)));
    expect(quotaRefusal(first).resource).toBe("items");
    expect(await redis.exists(keys.psNode(other))).toBe(0);
    expect(await redis.zscore(keys.psAgents(), other)).toBeNull();
  });

  it("does not limit the nodes of admins and of the component", async () => {
    const c = await clientOf(admin);
    const node = `admin-quota-${admin.user}`;
    expect(errorOf(await set(c, pubsub(xml("create", { node }))))).toBeUndefined();
    for (let i = 0; i < MAX_ITEMS + 3; i++)
      expect(errorOf(await set(c, publishIq(node, note(`x${i}`), `x${i}`)))).toBeUndefined();
    expect((await usage(admin.jid)).items).toBe(MAX_ITEMS + 3);
    for (let i = 0; i < MAX_ITEMS + 3; i++)
      await component.pubsub.publish("alerts", note(`al${i}`));
    expect((await usage(service)).items).toBeGreaterThan(MAX_ITEMS);
  });
});

describe("nodes stored by an older jabmon", () => {
  it("counts a node without usage accounting the first time a script touches it", async () => {
    const c = await clientOf(creator);
    const node = `qold-${creator.user}`;
    expect(errorOf(await set(c, pubsub(xml("create", { node }))))).toBeUndefined();
    for (let i = 0; i < 3; i++)
      expect(errorOf(await set(c, publishIq(node, note(`o${i}`), `o${i}`)))).toBeUndefined();
    // As an older jabmon left it: no qbytes on the node, no usage hash.
    await redis.hdel(keys.psNode(node), "qbytes");
    await redis.del(keys.psUsage(creator.jid));
    const retracted = await set(c, pubsub(xml("retract", { node }, xml("item", { id: "o0" }))));
    expect(errorOf(retracted)).toBeUndefined();
    expect(await usage(creator.jid)).toEqual(await truth([node]));
    expect((await usage(creator.jid)).items).toBe(2);
    expect(errorOf(await set(c, owner(xml("delete", { node }))))).toBeUndefined();
    expect(await usage(creator.jid)).toEqual({ items: 0, bytes: 0 });
  });
});

describe("configuration", () => {
  const password = { JABMON_COMPONENT_PASSWORD: "k3Jx9qPz2Lm4Vb7Nw8Rt" };

  it("has documented defaults a normal agent stays far below", () => {
    const config = loadConfig(componentSchema, { envMap: componentEnv, env: password });
    expect(config.pubsub).toMatchObject({ maxItemsPerJid: 20_000, maxBytesPerJid: 67_108_864 });
    // An agent node keeps defaultMaxItems results, well under the item quota.
    expect(config.pubsub.defaultMaxItems * 10).toBeLessThanOrEqual(config.pubsub.maxItemsPerJid);
    const doc = readFileSync(join(import.meta.dirname, "../../docs/pubsub.md"), "utf8");
    for (const key of ["maxItemsPerJid", "maxBytesPerJid"]) expect(doc).toContain(`| \`${key}\` |`);
  });

  it("refuses a byte quota one largest item cannot fit in, naming the key", () => {
    expect(() =>
      loadConfig(componentSchema, {
        envMap: componentEnv,
        env: password,
        overrides: { "pubsub.maxBytesPerJid": "65536" },
      }),
    ).toThrow(/pubsub\.maxBytesPerJid: must be at least pubsub\.maxPayloadBytes \+ 4096/);
  });
});
