/**
 * XEP-0059 result set management as the service's retrievals and listings use
 * it: reading a `<set/>` request, answering with one, and cutting a page to
 * the byte budget of one reply (`pubsub.maxReplyBytes`).
 *
 * https://xmpp.org/extensions/xep-0059.html
 */
import type { IqRequest } from "../component/index.js";
import { NS_RSM } from "../protocol/index.js";
import { type Element, el } from "../xmpp/index.js";
import { pubsubError } from "./errors.js";
import type { Page, PageRequest } from "./store.js";

/** Bytes of an element as sent. */
export const byteSize = (element: Element) => Buffer.byteLength(element.toString());

/**
 * Room kept in a reply for the RSM `<set/>` after the entries: first and last
 * (ids or node names of at most 256 characters, escaped) and count.
 */
export const RSM_RESERVE = 2 * 6 * 256 + 256;

/** What paging is bounded by: the reply limit, the largest listing page and retrieval. */
export interface PagingLimits {
  maxReplyBytes: number;
  maxDiscoItems: number;
  maxItemsLimit: number;
}

/**
 * Bytes left for the payload of the reply to `stanza` within maxReplyBytes:
 * the reply's `<iq/>` echoes the request's id and swaps from and to.
 */
export const replyBudget = (limits: PagingLimits, stanza: Element) =>
  limits.maxReplyBytes -
  byteSize(
    el("iq", {
      type: "result",
      from: stanza.attrs.to,
      to: stanza.attrs.from,
      id: stanza.attrs.id,
    }),
  ) -
  8;

/** A count of a request (`<max/>`, `<index/>`, max_items), at most `limit`. */
export function parseCount(text: string | undefined, what: string, limit: number) {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text.trim()))
    throw pubsubError("JABMON_ERR_INVALID_RSM", `${what} must be an integer`);
  return Math.min(Number(text.trim()), limit);
}

/**
 * The XEP-0059 request in a `<set/>`: a page of at most `cap` entries (a
 * bigger `<max/>` gets `cap`, as §2.1 lets the responder do).
 */
export function pageRequest(set: Element, cap: number): PageRequest {
  const max = parseCount(set.getChildText("max") ?? undefined, "max", cap) ?? cap;
  const after = set.getChild("after");
  const before = set.getChild("before");
  if (after) {
    const id = after.getText();
    if (id === "") throw pubsubError("JABMON_ERR_INVALID_RSM", "<after/> needs an id");
    return { mode: "after", id, max };
  }
  if (before) {
    const id = before.getText();
    return id === "" ? { mode: "last", max } : { mode: "before", id, max };
  }
  const index = parseCount(set.getChildText("index") ?? undefined, "index", Infinity) ?? 0;
  return { mode: "index", index, max };
}

/** Paging backwards: a cut page keeps its end, so the next `<before/>` continues. */
export const fromEnd = (request: PageRequest) =>
  request.mode === "before" || request.mode === "last";

/** The answer's `<set/>`: first (with its index) and last only when the page has entries. */
export function rsmSet(page: Page): Element {
  const set = el("set", { xmlns: NS_RSM });
  const first = page.ids[0];
  if (first !== undefined) {
    set.cnode(el("first", { index: page.firstIndex }, first));
    set.cnode(el("last", {}, page.ids[page.ids.length - 1] as string));
  }
  set.cnode(el("count", {}, String(page.count)));
  return set;
}

/** A PageRequest applied to a list in memory, as PAGE_IDS does to a sorted set. */
export function pageWindow(ids: string[], request: PageRequest): Page {
  const count = ids.length;
  let start: number;
  let stop: number;
  if (request.mode === "index") {
    [start, stop] = [request.index, request.index + request.max - 1];
  } else if (request.mode === "last") {
    [start, stop] = [Math.max(count - request.max, 0), count - 1];
  } else {
    const r = ids.indexOf(request.id);
    if (r < 0)
      throw pubsubError("JABMON_ERR_RSM_ITEM_NOT_FOUND", "no entry with that id to page from");
    [start, stop] =
      request.mode === "after" ? [r + 1, r + request.max] : [Math.max(r - request.max, 0), r - 1];
  }
  return { ids: ids.slice(start, Math.min(stop, count - 1) + 1), firstIndex: start, count };
}

/**
 * The longest part of a page whose entries fit in `budget` bytes: its start
 * (paging forwards), or its end (`backwards`: so the next `<before/>`
 * continues where this one stopped).
 */
export function fitPage(
  limits: PagingLimits,
  page: Page,
  size: (id: string) => number,
  budget: number,
  backwards: boolean,
): Page {
  const order = backwards ? [...page.ids].reverse() : page.ids;
  const kept: string[] = [];
  let used = 0;
  for (const id of order) {
    used += size(id);
    if (used > budget) break;
    kept.push(id);
  }
  if (kept.length === page.ids.length) return page;
  if (kept.length === 0 && page.ids.length > 0)
    throw pubsubError(
      "JABMON_ERR_REPLY_TOO_BIG",
      `an entry is larger than the reply limit (${limits.maxReplyBytes} bytes)`,
    );
  if (!backwards) return { ...page, ids: kept };
  return {
    ids: kept.reverse(),
    firstIndex: page.firstIndex + page.ids.length - kept.length,
    count: page.count,
  };
}

/**
 * A subscription or affiliation list as one XEP-0059 page: entries ordered by
 * key (the RSM id: the JID, the node, or "node JID"), at most maxDiscoItems
 * and the byte budget, `<set/>` after the list when asked for or when cut.
 */
export function pagedList(
  limits: PagingLimits,
  req: IqRequest,
  xmlns: string,
  list: Element,
  entries: Array<{ key: string; element: Element }>,
): Element {
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const set = req.element.getChild("set", NS_RSM);
  const request: PageRequest = set
    ? pageRequest(set, limits.maxDiscoItems)
    : { mode: "index", index: 0, max: limits.maxDiscoItems };
  const byKey = new Map(entries.map((e) => [e.key, e.element]));
  const window = pageWindow(
    entries.map((e) => e.key),
    request,
  );
  const budget =
    replyBudget(limits, req.stanza) - byteSize(el("pubsub", { xmlns }, list)) - RSM_RESERVE;
  const fitted = fitPage(
    limits,
    window,
    (key) => byteSize(byKey.get(key) as Element),
    budget,
    fromEnd(request),
  );
  for (const key of fitted.ids) list.cnode(byKey.get(key) as Element);
  const cut = fitted.ids.length < fitted.count;
  return el("pubsub", { xmlns }, list, set || cut ? rsmSet(fitted) : undefined);
}
