/**
 * An entity's own subscriptions (XEP-0060 §6.1-§6.4): options and its own
 * subscription list, listening to alertpublishers for agent nodes appearing
 * and going, and the last published item a new subscription gets (§6.1.7).
 */
import { type Client, xml } from "@xmpp/client";
import { describe, expect, it } from "vitest";
import {
  available,
  check,
  collectEvents,
  errorOf,
  eventItems,
  form,
  NS_DELAY,
  NS_EVENT,
  NS_OWNER,
  owner,
  publishIq,
  pubsub,
  type Xml,
} from "../helpers/pubsub.js";
import {
  CONFIG,
  createNode,
  get,
  keys,
  NS_DISCO_INFO,
  reader,
  redis,
  serviceFeatures,
  set,
  stack,
  startPubsubSuite,
  subscribe,
  user,
} from "../helpers/pubsub-suite.js";
import { sleep, waitFor } from "../helpers/wait.js";

startPubsubSuite("pubsub-subscriptions");

describe("subscription options and lists", () => {
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
    expect(await serviceFeatures(client)).toContain(
      "http://jabber.org/protocol/pubsub#last-published",
    );
    // The component's alerts node carries events: a new subscriber gets no old alert.
    expect(await redis.hget(keys.psNode("alerts"), "send_last_published_item")).toBe("never");
    // An agent node's auto-create stores the default.
    await set(client, publishIq(`agents/${account.jid}`, check(1)));
    expect(await redis.hget(keys.psNode(`agents/${account.jid}`), "send_last_published_item")).toBe(
      "on_sub",
    );
  });
});
