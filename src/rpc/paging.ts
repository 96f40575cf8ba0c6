/**
 * Pages of the list methods (hosts.list, alerts.list, silence.list,
 * downtime.list). A list answered whole would grow with the fleet until it is
 * larger than ejabberd lets the component send (about 1,100 hosts in 1 MiB),
 * so every list takes a `page` parameter, `{limit, after}`, and then answers
 * `{items, total, more, next}`: at most `limit` entries (default 100, at most
 * 1000) that also fit in the reply's byte budget, and the cursor to pass as
 * `after` for the next page. As the pubsub service does with XEP-0059 (src/pubsub/rsm.ts),
 * a page asking for more than fits is cut, never refused.
 *
 * A call without the `page` parameter gets the whole list as an array, as
 * before, when it fits in one reply; when it does not, fault -32008 tells
 * the caller to page. Old callers of small fleets keep working; none can make
 * the component send a stanza ejabberd refuses.
 *
 * The cursor is the key of the last entry sent, and the next page starts
 * after it in key order, so an entry added or removed between pages moves
 * no other entry from one page to another.
 */
import { encodeValue, type RpcStruct, type RpcValue, typeName } from "./codec.js";
import { RpcFault } from "./errors.js";
import type { CallContext, ParamSpec } from "./service.js";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** A cursor is an entry's key (a bare JID at most); anything longer is no cursor of ours. */
const MAX_CURSOR = 4096;

export interface PageRequest {
  limit: number;
  /** The `next` of the previous page: entries after this key. */
  after?: string;
}

/** A list method's entries and how they are keyed. */
export interface Listing {
  method: string;
  /** What the entries are, for messages: "hosts". */
  noun: string;
  /** The 1-based position of the method's `page` parameter, for messages. */
  position: number;
  entries: RpcStruct[];
  /** The entry's cursor; the list is sent in this key's code-unit order, and keys are unique. */
  key(entry: RpcStruct): string;
}

const badPage = (method: string, position: number, what: string) =>
  new RpcFault("JABMON_RPC_BAD_PARAMS", `${method}: parameter 'page' (${position}) ${what}`);

/** The `page` parameter: undefined when the caller asked for the whole list. */
export function pageRequest(
  method: string,
  position: number,
  value: RpcValue | undefined,
): PageRequest | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeName(value) !== "struct") throw badPage(method, position, "must be a struct");
  const request: PageRequest = { limit: DEFAULT_PAGE_SIZE };
  for (const [member, v] of Object.entries(value as RpcStruct)) {
    if (member === "limit") {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 1)
        throw badPage(method, position, "limit must be a positive int");
      // As XEP-0059 §2.1 lets a responder do: more than the largest page gets the largest page.
      request.limit = Math.min(v, MAX_PAGE_SIZE);
    } else if (member === "after") {
      if (typeof v !== "string" || v.length > MAX_CURSOR)
        throw badPage(method, position, "after must be the 'next' string of the previous page");
      request.after = v;
    } else {
      throw badPage(
        method,
        position,
        `has an unknown member '${member.slice(0, 40)}' (limit, after)`,
      );
    }
  }
  return request;
}

const encodedBytes = (value: RpcValue) => Buffer.byteLength(encodeValue(value).toString());
const byKey = (a: { key: string }, b: { key: string }) =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : 0;

/** Index of the first entry whose key is after `after` (keys sorted). */
function firstAfter(keyed: Array<{ key: string }>, after: string): number {
  let low = 0;
  let high = keyed.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((keyed[mid] as { key: string }).key <= after) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * The method's answer within `budget` bytes of encoded value: a page when
 * asked for one, else the whole list (fault -32008 when it does not fit).
 */
export function listAnswer(
  listing: Listing,
  request: PageRequest | undefined,
  budget: number,
): RpcValue {
  const keyed = listing.entries.map((entry) => ({ key: listing.key(entry), entry })).sort(byKey);
  if (request === undefined) return wholeList(listing, keyed, budget);
  const total = keyed.length;
  const start = request.after === undefined ? 0 : firstAfter(keyed, request.after);
  const window = keyed.slice(start, start + request.limit);
  const items: RpcStruct[] = [];
  let used = 0;
  for (const { key, entry } of window) {
    const last = start + items.length + 1 === total;
    // The page's own members, with this entry's key as `next` unless it ends the list.
    const wrapper = encodedBytes(pageValue([], total, last ? undefined : key));
    const size = encodedBytes(entry);
    if (used + size + wrapper > budget) break;
    items.push(entry);
    used += size;
  }
  if (items.length === 0 && window.length > 0)
    throw new RpcFault(
      "JABMON_RPC_REPLY_TOO_BIG",
      `${listing.method}: one entry alone is larger than a reply may be (rpc.maxReplyBytes)`,
    );
  const end = start + items.length;
  return pageValue(items, total, end < total ? keyed[end - 1]?.key : undefined);
}

function pageValue(items: RpcStruct[], total: number, next: string | undefined): RpcStruct {
  return next === undefined ? { items, total, more: false } : { items, total, more: true, next };
}

function wholeList(
  listing: Listing,
  keyed: Array<{ key: string; entry: RpcStruct }>,
  budget: number,
): RpcValue {
  let used = encodedBytes([]);
  for (const { entry } of keyed) {
    used += encodedBytes(entry);
    if (used > budget)
      throw new RpcFault(
        "JABMON_RPC_REPLY_TOO_BIG",
        `${listing.method}: ${keyed.length} ${listing.noun} do not fit in one reply (rpc.maxReplyBytes); page: pass parameter 'page' (${listing.position}) as {limit: ${DEFAULT_PAGE_SIZE}}, then {after: next} until more is false`,
      );
  }
  return keyed.map(({ entry }) => entry);
}

/** The `page` parameter every list method takes last. */
export const PAGE_PARAM: ParamSpec = { name: "page", type: "struct", optional: true };

/**
 * A list method's answer: the page its `page` parameter asks for, or the
 * whole list when it fits; either within the call's reply budget. The
 * parameter is checked before the entries are read.
 */
export async function answerList(
  listing: Omit<Listing, "entries">,
  page: RpcValue | undefined,
  entries: () => Promise<RpcStruct[]>,
  context: CallContext,
): Promise<RpcValue> {
  const request = pageRequest(listing.method, listing.position, page);
  return listAnswer({ ...listing, entries: await entries() }, request, context.replyBytes);
}

// ---------------------------------------------------------------- callers

/** One page of a list method's answer, as a caller reads it. */
export interface Page {
  items: RpcStruct[];
  total: number;
  more: boolean;
  next?: string;
}

/** A list method's answer to a call with a `page` parameter; RpcFault if it is not a page. */
export function readPage(method: string, value: RpcValue): Page {
  const page = value as Partial<Record<keyof Page, RpcValue>> | null;
  if (
    typeName(value) !== "struct" ||
    !Array.isArray(page?.items) ||
    typeof page?.total !== "number" ||
    typeof page?.more !== "boolean" ||
    (page.more && typeof page.next !== "string")
  )
    throw new RpcFault("JABMON_RPC_INTERNAL", `${method} did not answer with a page`);
  const read: Page = { items: page.items as RpcStruct[], total: page.total, more: page.more };
  if (page.more) read.next = page.next as string;
  return read;
}

/**
 * Every entry of a list method, page by page: `call` makes the call with
 * the given `page` parameter. Stops when a page says there is no more, and
 * refuses to loop on a service whose cursor does not advance.
 */
export async function allPages(
  method: string,
  call: (page: RpcStruct) => Promise<RpcValue>,
  limit = MAX_PAGE_SIZE,
): Promise<RpcStruct[]> {
  const entries: RpcStruct[] = [];
  let after: string | undefined;
  for (;;) {
    const page = readPage(method, await call(after === undefined ? { limit } : { limit, after }));
    entries.push(...page.items);
    if (!page.more) return entries;
    if (page.items.length === 0 || page.next === after)
      throw new RpcFault("JABMON_RPC_INTERNAL", `${method}: paging did not advance`);
    after = page.next;
  }
}
