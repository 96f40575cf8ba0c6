/**
 * Stanza errors (RFC 6120 §8.3). A handler throws a StanzaError for a known
 * failure; the dispatcher turns it into the `<error/>` child of the reply.
 */

import ltx, { type Element } from "./ltx.js";

/** RFC 6120 §8.3: the namespace of stanza error conditions. */
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

export type ErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

/** The defined conditions of RFC 6120 §8.3.3, each with its usual error type. */
export const CONDITION_TYPES = {
  "bad-request": "modify",
  conflict: "cancel",
  "feature-not-implemented": "cancel",
  forbidden: "auth",
  gone: "cancel",
  "internal-server-error": "cancel",
  "item-not-found": "cancel",
  "jid-malformed": "modify",
  "not-acceptable": "modify",
  "not-allowed": "cancel",
  "not-authorized": "auth",
  "policy-violation": "modify",
  "recipient-unavailable": "wait",
  redirect: "modify",
  "registration-required": "auth",
  "remote-server-not-found": "cancel",
  "remote-server-timeout": "wait",
  "resource-constraint": "wait",
  "service-unavailable": "cancel",
  "subscription-required": "auth",
  "undefined-condition": "cancel",
  "unexpected-request": "wait",
} as const satisfies Record<string, ErrorType>;

export type StanzaCondition = keyof typeof CONDITION_TYPES;

export interface StanzaErrorOptions {
  type?: ErrorType;
  text?: string;
  /** An application-specific condition element, e.g. `<invalid-jid xmlns=".../pubsub#errors"/>`. */
  application?: Element;
}

export class StanzaError extends Error {
  override name = "StanzaError";
  readonly condition: StanzaCondition;
  readonly type: ErrorType;
  readonly text: string | undefined;
  readonly application: Element | undefined;

  constructor(condition: StanzaCondition, options: StanzaErrorOptions = {}) {
    super(options.text ?? condition);
    this.condition = condition;
    this.type = options.type ?? CONDITION_TYPES[condition];
    this.text = options.text;
    this.application = options.application;
  }

  /** The `<error/>` element to put in a reply. */
  toElement(): Element {
    const error = new ltx.Element("error", { type: this.type });
    error.c(this.condition, { xmlns: NS_STANZAS });
    if (this.text) error.c("text", { xmlns: NS_STANZAS }).t(this.text);
    if (this.application) error.cnode(this.application);
    return error;
  }
}
