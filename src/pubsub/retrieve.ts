/**
 * Retrieving items (XEP-0060 §6.5): by id, the newest max_items, or a
 * XEP-0059 page, every reply within `pubsub.maxReplyBytes`: a longer one is
 * cut (in READ_ITEMS, so no more than fits leaves Redis) and says so with an
 * RSM `<set/>` to continue from.
 *
 * https://xmpp.org/extensions/xep-0060.html#subscriber-retrieve
 */
import { NS_PUBSUB, NS_RSM } from "../protocol/index.js";
import { type Element, el, ltx } from "../xmpp/index.js";
import type { PubsubContext, PubsubRequest } from "./context.js";
import { pubsubError } from "./errors.js";
import { only, requireNode } from "./names.js";
import { itemElement } from "./notify.js";
import { byteSize, pageRequest, parseCount, RSM_RESERVE, replyBudget, rsmSet } from "./rsm.js";
import type { ItemsPage, ItemsRequest } from "./store.js";

/**
 * Which items a retrieval asks for: by id; an RSM page (§6.5.4 / XEP-0059);
 * the newest max_items (§6.5.7, at most maxItemsLimit); or, without either,
 * the node's items from the oldest. Whatever the request, the reply is cut
 * to the byte budget and then says so with a `<set/>` to continue from.
 */
function itemsRequest(
  ctx: PubsubContext,
  itemsEl: Element,
  set: Element | undefined,
): ItemsRequest {
  const { maxItemsLimit } = ctx.options;
  const wanted = itemsEl.getChildren("item").map((i) => i.attrs.id as string | undefined);
  if (wanted.length > 0) {
    if (wanted.some((id) => !id)) throw pubsubError("JABMON_ERR_BAD_REQUEST", "item without id");
    return { mode: "ids", ids: wanted as string[] };
  }
  if (set) return pageRequest(set, maxItemsLimit);
  const maxItems = parseCount(itemsEl.attrs.max_items, "max_items", maxItemsLimit);
  if (maxItems !== undefined) return { mode: "recent", max: maxItems };
  return { mode: "index", index: 0, max: maxItemsLimit };
}

/** Refuses a page that cannot be answered within the reply limit. */
function checkFits(ctx: PubsubContext, request: ItemsRequest, page: ItemsPage): void {
  const limit = ctx.options.maxReplyBytes;
  if (page.status === "too-big")
    throw pubsubError(
      "JABMON_ERR_REPLY_TOO_BIG",
      `item ${request.mode === "ids" ? "" : "at this position "}is larger than the reply limit (${limit} bytes)`,
    );
  if (request.mode !== "ids") return;
  if (page.items.length === 0) throw pubsubError("JABMON_ERR_ITEM_NOT_FOUND");
  if (page.status === "cut")
    throw pubsubError(
      "JABMON_ERR_REPLY_TOO_BIG",
      `these items exceed the reply limit (${limit} bytes): ask for fewer`,
    );
}

export async function retrieve(ctx: PubsubContext, req: PubsubRequest): Promise<Element> {
  const pubsub = req.element;
  const itemsEl = only(pubsub, "items");
  const node = requireNode(itemsEl.attrs.node);
  const state = await ctx.access.loadNode(node, req.who);
  ctx.access.checkRead(state, req.who.bare);
  const { record } = state;
  const set = pubsub.getChild("set", NS_RSM);
  const request = itemsRequest(ctx, itemsEl, set);
  const cutoff = record.itemExpire > 0 ? Date.now() - record.itemExpire * 1000 : 0;
  const wrapper = el("pubsub", { xmlns: NS_PUBSUB }, el("items", { node }));
  const budget = replyBudget(ctx.options, req.stanza) - byteSize(wrapper) - RSM_RESERVE;
  const page = await ctx.store.readItems(node, request, budget, cutoff);
  if (!page)
    throw pubsubError("JABMON_ERR_RSM_ITEM_NOT_FOUND", "no item with that id to page from");
  checkFits(ctx, request, page);
  const out = el("items", { node });
  for (const item of page.items)
    out.cnode(itemElement(item.id, item.seq, item.publisher, ltx.parse(item.payload)));
  // §6.5.4: a reply that leaves items out says so with a <set/>, so the client pages on.
  const cut =
    page.status === "cut" || (request.mode === "index" && !set && page.count > request.max);
  const rsm =
    request.mode !== "ids" && (set || cut)
      ? rsmSet({
          ids: page.items.map((i) => i.id),
          firstIndex: page.firstRank,
          count: page.count,
        })
      : undefined;
  return el("pubsub", { xmlns: NS_PUBSUB }, out, rsm);
}
