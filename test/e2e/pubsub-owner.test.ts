/**
 * Owner use cases (XEP-0060 §8): creating (instant nodes too), configuring,
 * purging and deleting nodes with their notifications, and answering
 * subscription requests with the subscribe_authorization form (§8.6).
 */
import { type Client, xml } from "@xmpp/client";
import { describe, expect, it } from "vitest";
import { PubsubStore } from "../../src/pubsub/index.js";
import {
  collectEvents,
  errorOf,
  eventItems,
  form,
  NS_DATA,
  NS_EVENT,
  owner,
  publishIq,
  pubsub,
  type Xml,
} from "../helpers/pubsub.js";
import {
  CONFIG,
  createNode,
  get,
  itemIds,
  keys,
  redis,
  service,
  serviceFeatures,
  set,
  setAffiliation,
  startPubsubSuite,
  storedCount,
  subscribe,
  subscriptionEvents,
  user,
} from "../helpers/pubsub-suite.js";
import { sleep, waitFor } from "../helpers/wait.js";

startPubsubSuite("pubsub-owner");

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
    expect(await serviceFeatures(client)).toContain(
      "http://jabber.org/protocol/pubsub#instant-nodes",
    );
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
    const lastOwner = await setAffiliation(client, node, account.jid, "none");
    expect(errorOf(lastOwner)).toEqual(["not-acceptable", undefined]);
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
    expect(await serviceFeatures(client)).toContain(
      "http://jabber.org/protocol/pubsub#subscription-notifications",
    );
  });
});
