/**
 * Retrieving items (XEP-0060 §6.5): XEP-0059 pages, the newest max_items,
 * items by id, a node's max_items and pubsub#item_expire; through a real
 * ejabberd, state checked in the real Redis.
 */
import { xml } from "@xmpp/client";
import { describe, expect, it } from "vitest";
import { errorOf, NS_RSM, publishIq, pubsub } from "../helpers/pubsub.js";
import {
  createNode,
  get,
  itemIds,
  set,
  startPubsubSuite,
  storedCount,
  user,
} from "../helpers/pubsub-suite.js";
import { sleep, waitFor } from "../helpers/wait.js";

startPubsubSuite("pubsub-retrieve");

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
