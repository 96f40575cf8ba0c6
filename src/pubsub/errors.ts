/**
 * Every error the pubsub service answers with, by code. Each code maps to the
 * XEP-0060 error: an RFC 6120 condition plus, where the XEP names one, an
 * application condition in `http://jabber.org/protocol/pubsub#errors`.
 * docs/pubsub.md lists them all (a test checks it does).
 *
 * https://xmpp.org/extensions/xep-0060.html#errors
 */
import { NS_JABMON, NS_PUBSUB_ERRORS } from "../protocol/index.js";
import { type Element, el, type StanzaCondition, StanzaError } from "../xmpp/index.js";

interface ErrorSpec {
  condition: StanzaCondition;
  /** The error type when not the condition's usual one. */
  type?: StanzaError["type"];
  /** pubsub#errors element name, if any. */
  app?: string;
  /** `feature` attribute of `<unsupported/>`. */
  feature?: string;
}

export const PUBSUB_ERRORS = {
  JABMON_ERR_NODE_NOT_FOUND: { condition: "item-not-found" },
  JABMON_ERR_ITEM_NOT_FOUND: { condition: "item-not-found" },
  JABMON_ERR_NODE_EXISTS: { condition: "conflict" },
  JABMON_ERR_NODEID_REQUIRED: { condition: "bad-request", app: "nodeid-required" },
  JABMON_ERR_INVALID_NODE_NAME: { condition: "not-acceptable" },
  JABMON_ERR_FORBIDDEN: { condition: "forbidden" },
  JABMON_ERR_OUTCAST: { condition: "forbidden" },
  JABMON_ERR_NOT_OWNER: { condition: "forbidden" },
  JABMON_ERR_AUTO_CREATE_FORBIDDEN: { condition: "forbidden" },
  JABMON_ERR_NOT_AN_AGENT: { condition: "forbidden" },
  JABMON_ERR_SEQ_REGRESSED: { condition: "unexpected-request", type: "modify" },
  JABMON_ERR_CLOSED_NODE: { condition: "not-allowed", app: "closed-node" },
  JABMON_ERR_PENDING_SUBSCRIPTION: { condition: "not-authorized", app: "pending-subscription" },
  JABMON_ERR_NOT_AUTHORIZED: { condition: "not-authorized", app: "not-subscribed" },
  JABMON_ERR_PAYLOAD_TOO_BIG: { condition: "not-acceptable", app: "payload-too-big" },
  JABMON_ERR_INVALID_PAYLOAD: { condition: "bad-request", app: "invalid-payload" },
  JABMON_ERR_ITEM_REQUIRED: { condition: "bad-request", app: "item-required" },
  JABMON_ERR_PAYLOAD_REQUIRED: { condition: "bad-request", app: "payload-required" },
  JABMON_ERR_INVALID_ITEM_ID: { condition: "bad-request", app: "item-forbidden" },
  JABMON_ERR_PRECONDITION_NOT_MET: { condition: "conflict", app: "precondition-not-met" },
  JABMON_ERR_INVALID_JID: { condition: "bad-request", app: "invalid-jid" },
  JABMON_ERR_NOT_SUBSCRIBED: { condition: "unexpected-request", app: "not-subscribed" },
  JABMON_ERR_NO_PENDING_SUBSCRIPTION: { condition: "item-not-found" },
  JABMON_ERR_INVALID_SUBID: { condition: "not-acceptable", app: "invalid-subid" },
  JABMON_ERR_INVALID_OPTIONS: { condition: "bad-request", app: "invalid-options" },
  JABMON_ERR_INVALID_CONFIG: { condition: "not-acceptable" },
  JABMON_ERR_INVALID_AFFILIATION: { condition: "bad-request" },
  JABMON_ERR_INVALID_SUBSCRIPTION: { condition: "bad-request" },
  JABMON_ERR_LAST_OWNER: { condition: "not-acceptable" },
  JABMON_ERR_BAD_REQUEST: { condition: "bad-request" },
  JABMON_ERR_INVALID_RSM: { condition: "bad-request" },
  JABMON_ERR_RSM_ITEM_NOT_FOUND: { condition: "item-not-found" },
  JABMON_ERR_UNSUPPORTED: { condition: "feature-not-implemented", app: "unsupported" },
  JABMON_ERR_CREATE_FORBIDDEN: { condition: "forbidden" },
  JABMON_ERR_MAX_NODES: { condition: "not-allowed", app: "max-nodes-exceeded" },
  JABMON_ERR_TOO_MANY_SUBSCRIPTIONS: {
    condition: "policy-violation",
    app: "too-many-subscriptions",
  },
  JABMON_ERR_REPLY_TOO_BIG: { condition: "policy-violation" },
  JABMON_ERR_STORE_UNAVAILABLE: { condition: "resource-constraint" },
  JABMON_ERR_QUOTA_EXCEEDED: { condition: "resource-constraint" },
} as const satisfies Record<string, ErrorSpec>;

export type PubsubErrorCode = keyof typeof PUBSUB_ERRORS;

/** A StanzaError that also carries its jabmon code (in logs and tests). */
export class PubsubError extends StanzaError {
  override name = "PubsubError";
  readonly code: PubsubErrorCode;

  constructor(code: PubsubErrorCode, text?: string, feature?: string, application?: Element) {
    const spec: ErrorSpec = PUBSUB_ERRORS[code];
    const app = spec.app
      ? el(spec.app, {
          xmlns: NS_PUBSUB_ERRORS,
          feature: spec.app === "unsupported" ? feature : undefined,
        })
      : application;
    super(spec.condition, { text, application: app, type: spec.type });
    this.code = code;
  }
}

/**
 * A publish to an agent node whose `seq` is the reorder span or more below the
 * highest the node has stored, and not stored before: refused, with the
 * highest in `<seq-regressed xmlns="urn:jabmon:0" high="..."/>`, so the agent
 * re-seeds above it and publishes the result again (docs/protocol.md).
 */
export const seqRegressedError = (high: string) =>
  new PubsubError(
    "JABMON_ERR_SEQ_REGRESSED",
    `seq is far below ${high}, the highest stored: re-seed above it and publish again`,
    undefined,
    el("seq-regressed", { xmlns: NS_JABMON, high }),
  );

/**
 * A publish that would take its node owner's stored items or bytes over
 * `pubsub.maxItemsPerJid` / `pubsub.maxBytesPerJid` (docs/security.md):
 * resource-constraint, type wait, with `<quota-exceeded xmlns="urn:jabmon:0"
 * resource="items|bytes"/>`. Nothing was stored. `wait`, not policy-violation:
 * an agent keeps a result refused so in its spool and retries it (room is
 * made by retracting, purging, a lower max_items or a higher quota), where it
 * would drop one refused with a modify-type error as malformed.
 */
export const quotaExceededError = (resource: "items" | "bytes") =>
  new PubsubError(
    "JABMON_ERR_QUOTA_EXCEEDED",
    `the node owner's quota of stored ${resource} is used up (pubsub.${resource === "items" ? "maxItemsPerJid" : "maxBytesPerJid"}): retract or purge items, or lower max_items`,
    undefined,
    el("quota-exceeded", { xmlns: NS_JABMON, resource }),
  );

export const pubsubError = (code: PubsubErrorCode, text?: string, feature?: string) =>
  new PubsubError(code, text, feature);

/** Redis is unreachable: RFC 6120 resource-constraint, type wait (retry later; nothing was stored). */
export const storeUnavailable = () =>
  pubsubError("JABMON_ERR_STORE_UNAVAILABLE", "the store is unavailable; retry later");

/** Negative return codes of the Lua scripts (scripts.ts), as BullMQ's scriptErrors(). */
export function scriptError(code: number, node: string): PubsubError {
  switch (code) {
    case -1:
      return pubsubError("JABMON_ERR_NODE_NOT_FOUND", `no node ${node}`);
    case -2:
      return pubsubError("JABMON_ERR_FORBIDDEN", "not allowed to publish to this node");
    case -3:
      return pubsubError("JABMON_ERR_OUTCAST", "you are an outcast of this node");
    case -4:
      return pubsubError("JABMON_ERR_PRECONDITION_NOT_MET", "node configuration differs");
    case -5:
      return pubsubError("JABMON_ERR_NODE_EXISTS", `node ${node} exists`);
    case -6:
      return pubsubError("JABMON_ERR_ITEM_NOT_FOUND", "no such item");
    case -7:
      return pubsubError("JABMON_ERR_FORBIDDEN", "not the item's publisher or a node owner");
    case -8:
      return pubsubError("JABMON_ERR_NOT_SUBSCRIBED", "no such subscription");
    case -9:
      return pubsubError("JABMON_ERR_LAST_OWNER", "a node keeps at least one owner");
    case -10:
      return pubsubError("JABMON_ERR_MAX_NODES", "you created as many nodes as you may");
    case -11:
      return pubsubError(
        "JABMON_ERR_TOO_MANY_SUBSCRIPTIONS",
        `node ${node} has too many subscriptions`,
      );
    case -12:
      return pubsubError("JABMON_ERR_TOO_MANY_SUBSCRIPTIONS", "you have too many subscriptions");
    case -13:
      return quotaExceededError("items");
    case -14:
      return quotaExceededError("bytes");
    default:
      return pubsubError("JABMON_ERR_BAD_REQUEST", `script error ${code}`);
  }
}
