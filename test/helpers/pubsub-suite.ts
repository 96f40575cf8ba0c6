/**
 * The stack the XEP-0060 e2e files share (pubsub-publish, -retrieve,
 * -subscriptions, -owner, -authz and -disco): a private ejabberd, the component
 * with the pubsub options below, a Redis connection to check state in, and the
 * requests those files make. `startPubsubSuite()` starts it for the calling
 * file; the exported `let`s are live bindings, `stack` set at once and the
 * rest once its beforeAll ran (vitest gives each test file its own copy of
 * this module).
 */
import { type Client, xml } from "@xmpp/client";
import { afterAll, beforeAll, expect } from "vitest";
import { createClient } from "../../src/client/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { Keys, type Redis } from "../../src/store/index.js";
import { available, errorOf, form, iq, NS_EVENT, owner, pubsub, type Xml } from "./pubsub.js";
import { type Account, type TestStack, useStack } from "./stack.js";

export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
export const CONFIG = "http://jabber.org/protocol/pubsub#node_config";
/** pubsub.maxDiscoItems of the component under test: the largest disco#items page. */
export const DISCO_PAGE = 5;

export let stack: TestStack;
export let component: RunningComponent;
export let redis: Redis;
export let keys: Keys;
export let service: string;
/** In pubsub.subscribers: reads every node (as an alertbot does). */
export let reader: Account;
/** Clients of loggedInAs(), stopped with the stack. */
const renamed: Client[] = [];

/** Start the stack before the calling file's tests and remove it after them. */
export function startPubsubSuite(name: string): void {
  stack = useStack(name);
  beforeAll(async () => {
    reader = await stack.account("reader");
    component = await stack.startComponent({
      pubsub: {
        maxPayloadBytes: 2048,
        sweepMs: 200,
        maxDiscoItems: DISCO_PAGE,
        subscribers: [reader.jid],
        // Every test account may create nodes here (test/e2e/pubsub-limits.test.ts checks the policy).
        creators: ["@localhost"],
        maxNodesPerJid: 1000,
      },
    });
    redis = stack.redis();
    keys = new Keys(stack.prefix);
    service = stack.componentJid;
  });
  afterAll(async () => {
    await Promise.all(renamed.map((c) => c.stop().catch(() => {})));
  });
}

/**
 * An online client of `account` that logs in as `username` (the account's
 * name in another case: ejabberd accepts it, and stamps that case on what the
 * client sends) with `resource`.
 */
export async function loggedInAs(
  account: Account,
  username: string,
  resource: string,
): Promise<Client> {
  const client = createClient({
    service: stack.ejabberd.c2sService,
    domain: stack.domain,
    username,
    password: account.password,
    resource,
    caFile: stack.caFile,
  });
  client.on("error", () => {});
  renamed.push(client);
  await client.start();
  await available(client);
  return client;
}

export async function user(): Promise<{ account: Account; client: Client }> {
  const account = await stack.account();
  const client = await stack.client(account);
  await available(client);
  return { account, client };
}

export const set = (c: Client, payload: Xml) => iq(c, service, "set", payload);
export const get = (c: Client, payload: Xml) => iq(c, service, "get", payload);

export async function createNode(c: Client, node: string, config: Record<string, string> = {}) {
  const reply = await set(
    c,
    pubsub(xml("create", { node }), xml("configure", {}, form(CONFIG, config))),
  );
  expect(errorOf(reply)).toBeUndefined();
}

/** Set `jid`'s affiliation with `node` (owner use case, XEP-0060 §8.9); the reply. */
export const setAffiliation = (c: Client, node: string, jid: string, affiliation: string) =>
  set(c, owner(xml("affiliations", { node }, xml("affiliation", { jid, affiliation }))));

/** The features the service advertises in disco#info. */
export async function serviceFeatures(c: Client): Promise<string[]> {
  const info = await get(c, xml("query", { xmlns: NS_DISCO_INFO }));
  return (info.getChild("query")?.getChildren("feature") ?? []).map((f) => f.attrs.var as string);
}

export async function subscribe(c: Client, node: string, jid: string) {
  return set(c, pubsub(xml("subscribe", { node, jid })));
}

export async function itemIds(c: Client, node: string, ...extra: Xml[]) {
  const reply = await get(c, pubsub(xml("items", { node }), ...extra));
  expect(errorOf(reply)).toBeUndefined();
  const items = reply.getChild("pubsub")?.getChild("items")?.getChildren("item") ?? [];
  return { ids: items.map((i) => i.attrs.id as string), reply };
}

export const storedCount = (node: string) => redis.zcard(keys.psItems(node));

/** node, jid, subscription of the subscription-state notifications among events. */
export const subscriptionEvents = (events: Xml[]) =>
  events.flatMap((e) => {
    const s = e.getChild("event", NS_EVENT)?.getChild("subscription");
    return s ? [{ node: s.attrs.node, jid: s.attrs.jid, subscription: s.attrs.subscription }] : [];
  });
