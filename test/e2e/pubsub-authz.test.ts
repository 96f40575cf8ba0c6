/**
 * Who may read, subscribe and publish (XEP-0060 §4.5 access models, §4.1
 * affiliations): whitelist, authorize and outcast; and one account counting
 * as one owner, subscriber and agent whatever case its client logs in with.
 */
import { xml } from "@xmpp/client";
import { describe, expect, it } from "vitest";
import {
  available,
  check,
  collectEvents,
  errorOf,
  eventItems,
  form,
  owner,
  publishIq,
  pubsub,
} from "../helpers/pubsub.js";
import {
  CONFIG,
  createNode,
  get,
  itemIds,
  keys,
  loggedInAs,
  NS_DISCO_ITEMS,
  reader,
  redis,
  set,
  setAffiliation,
  stack,
  startPubsubSuite,
  storedCount,
  subscribe,
  subscriptionEvents,
  user,
} from "../helpers/pubsub-suite.js";
import { waitFor } from "../helpers/wait.js";

startPubsubSuite("pubsub-authz");

describe("access models and affiliations", () => {
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
    await setAffiliation(client, node, other.account.jid, "member");
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
    await setAffiliation(client, node, other.account.jid, "outcast");
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
});

describe("one account in any case", () => {
  it("treats a client logged in as WEB01@localhost as the same owner, subscriber and agent as web01@localhost", async () => {
    const account = await stack.account();
    const lower = await stack.client(account);
    await available(lower);
    // ejabberd accepts the name in any case and stamps that case on the stanzas.
    const upper = account.user.toUpperCase();
    const shouting = await loggedInAs(account, upper, "Shouting");
    const shoutingJid = `${upper}@${stack.domain}/Shouting`;

    // A node created in one case is the account's in the other.
    const node = `case-${account.user}`;
    await createNode(shouting, node);
    expect(await redis.hget(keys.psNode(node), "owner")).toBe(account.jid);
    const retitle = owner(xml("configure", { node }, form(CONFIG, { "pubsub#title": "mine" })));
    expect(errorOf(await set(lower, retitle))).toBeUndefined();

    // A subscription made in one case is listed, and can be ended, in the other.
    expect(errorOf(await subscribe(shouting, node, shoutingJid))).toBeUndefined();
    const mine = await get(lower, pubsub(xml("subscriptions")));
    expect(
      mine
        .getChild("pubsub")
        ?.getChild("subscriptions")
        ?.getChildren("subscription")
        .map((s) => [s.attrs.node, s.attrs.jid]),
    ).toEqual([[node, `${account.jid}/Shouting`]]);
    const stop = pubsub(xml("unsubscribe", { node, jid: `${account.jid}/Shouting` }));
    expect(errorOf(await set(lower, stop))).toBeUndefined();
    expect(await redis.hlen(keys.psSubscriptions(node))).toBe(0);

    // The agent node named with the lower-cased JID is its own to create by publishing.
    const agentNode = `agents/${account.jid}`;
    expect(errorOf(await set(shouting, publishIq(agentNode, check(1))))).toBeUndefined();
    expect(await redis.hget(keys.psNode(agentNode), "owner")).toBe(account.jid);

    // pubsub.subscribers lists reader@localhost: READER@localhost sees the fleet too.
    const loudReader = await loggedInAs(reader, reader.user.toUpperCase(), "Shouting");
    const inventory = await get(
      loudReader,
      xml("query", { xmlns: NS_DISCO_ITEMS, node: "alertpublishers" }),
    );
    expect(errorOf(inventory)).toBeUndefined();
  });
});
