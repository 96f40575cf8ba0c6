/**
 * The byte cap on every Jabber-RPC answer. ejabberd closes the component's
 * stream on a stanza over the service listener's `max_stanza_size` (1 MiB in
 * ejabberd.yml), which would blind the whole monitor; so no answer, value or
 * fault, leaves the component larger than `rpc.maxReplyBytes` counting the
 * whole IQ. List methods cut their pages to fit (paging.ts); anything else
 * over the cap becomes fault -32008, which tells the caller to ask for less.
 * The pubsub service caps its replies the same way (src/pubsub/rsm.ts).
 */
import { type Element, el } from "../xmpp/index.js";
import { encodeValue, faultQuery, responseQuery } from "./codec.js";
import { FAULTS } from "./errors.js";

/** The default of `rpc.maxReplyBytes`: a quarter of ejabberd's component max_stanza_size. */
export const DEFAULT_MAX_REPLY_BYTES = 262_144;

/** Bytes of an element as sent. */
export const byteSize = (element: Element) => Buffer.byteLength(element.toString());

/**
 * Bytes the `<iq type="result"/>` around an answer adds: it echoes the
 * request's id (chosen by the caller, up to ejabberd's c2s limit) and swaps
 * from and to. 8 more for the closing tag.
 */
export function iqEnvelopeBytes(request: { from?: string; to?: string; id?: string }): number {
  const envelope = el("iq", { type: "result", from: request.to, to: request.from, id: request.id });
  return byteSize(envelope) + 8;
}

/** What `responseQuery` adds around a value: query, methodResponse, params, param. */
const RESPONSE_WRAPPER = byteSize(responseQuery("")) - byteSize(encodeValue(""));

/** Bytes left for a method's value in an answer within `maxReplyBytes`. */
export const valueBudget = (maxReplyBytes: number, envelopeBytes: number) =>
  maxReplyBytes - envelopeBytes - RESPONSE_WRAPPER;

/**
 * The answer as it may be sent: `query` itself when it fits in maxReplyBytes
 * with its envelope, else fault -32008 naming the method and the sizes.
 */
export function capReply(
  query: Element,
  limit: { maxReplyBytes: number; envelopeBytes: number; method: string },
): { query: Element; refusedBytes?: number } {
  const bytes = byteSize(query) + limit.envelopeBytes;
  if (bytes <= limit.maxReplyBytes) return { query };
  const method = limit.method.slice(0, 100) || "the call";
  return {
    query: faultQuery(
      FAULTS.JABMON_RPC_REPLY_TOO_BIG,
      `the answer to ${method} would be ${bytes} bytes, more than rpc.maxReplyBytes (${limit.maxReplyBytes}): ask for less (list methods take a page parameter {limit, after})`,
    ),
    refusedBytes: bytes,
  };
}
