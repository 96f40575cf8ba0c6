/**
 * Stanza dispatch for the component. IQ handlers are registered by type,
 * namespace and element name, as with xmpp.js iqCallee, but looked up in a Map
 * (one lookup per stanza whatever the number of handlers) and with jabmon's
 * error contract: a handler returns an element, or `true` for an empty
 * result, or throws a StanzaError. Every IQ get/set gets exactly one reply
 * (sent by xmpp.js's iqCallee middleware, which also answers a malformed IQ
 * with bad-request): no handler → service-unavailable, a crash →
 * internal-server-error.
 *
 * https://xmpp.org/rfcs/rfc6120.html#stanzas-semantics-iq
 */

import type { Logger } from "../log/index.js";
import { StanzaError } from "../xmpp/index.js";
import type { Element } from "../xmpp/ltx.js";

export type IqType = "get" | "set";
export type IqResult = Element | true;
export interface IqRequest {
  stanza: Element;
  /** The single payload child of the IQ. */
  element: Element;
  from: string;
  to: string;
}
export type IqHandler = (request: IqRequest) => IqResult | Promise<IqResult>;
export type StanzaListener = (stanza: Element) => void | Promise<void>;

/**
 * Shape limits for every incoming stanza. ejabberd bounds a stanza's bytes
 * (`max_stanza_size`) but not its nesting: a 1 MiB stanza can nest about
 * 300,000 elements, and every recursive walk of it (serialising for a log
 * line, copying a payload) would overflow the stack. The depth default leaves
 * room for Jabber-RPC's own limit (32 nested arrays/structs, about 100
 * elements), which answers with its XML-RPC fault.
 */
export interface StanzaLimits {
  /** Elements from the stanza (depth 1) to its deepest descendant. */
  maxDepth: number;
  /** Elements in the whole stanza, itself included. */
  maxElements: number;
}

export const DEFAULT_STANZA_LIMITS: StanzaLimits = { maxDepth: 128, maxElements: 20_000 };

/**
 * Why a stanza is over the limits, or undefined. Iterative, and stops at the
 * first element past a limit: the walk never costs more than the limits.
 */
export function stanzaShapeProblem(stanza: Element, limits: StanzaLimits): string | undefined {
  const stack: Array<[Element, number]> = [[stanza, 1]];
  let elements = 0;
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [element, depth] = top;
    if (depth > limits.maxDepth) return `nested deeper than ${limits.maxDepth} elements`;
    if (++elements > limits.maxElements) return `more than ${limits.maxElements} elements`;
    for (const child of element.children)
      if (typeof child !== "string") stack.push([child as Element, depth + 1]);
  }
  return undefined;
}

const key = (type: IqType, ns: string, name: string) => `${type} ${name} ${ns}`;

export class Router {
  readonly #iq = new Map<string, IqHandler>();
  readonly #presence: StanzaListener[] = [];
  readonly #message: StanzaListener[] = [];
  readonly #log: Logger;
  readonly limits: StanzaLimits;
  /** Stanzas refused by `admit` since start (a counter for metrics and tests). */
  refused = 0;

  constructor(log: Logger, limits: StanzaLimits = DEFAULT_STANZA_LIMITS) {
    this.#log = log;
    this.limits = limits;
  }

  /**
   * The error to answer a stanza over the shape limits with (policy-violation,
   * RFC 6120 §8.3.3.12), or undefined when it may be dispatched. Logged once
   * per stanza, without the stanza.
   */
  admit(stanza: Element): StanzaError | undefined {
    const problem = stanzaShapeProblem(stanza, this.limits);
    if (!problem) return undefined;
    this.refused++;
    this.#log.warn(
      { from: stanza.attrs.from, kind: stanza.name, type: stanza.attrs.type, problem },
      "stanza refused: over the shape limits",
    );
    return new StanzaError("policy-violation", { text: `stanza ${problem}` });
  }

  get(ns: string, name: string, handler: IqHandler): void {
    this.#register("get", ns, name, handler);
  }

  set(ns: string, name: string, handler: IqHandler): void {
    this.#register("set", ns, name, handler);
  }

  onPresence(listener: StanzaListener): void {
    this.#presence.push(listener);
  }

  onMessage(listener: StanzaListener): void {
    this.#message.push(listener);
  }

  /** Presence and message stanzas: every listener sees each one. Never throws. */
  dispatch(stanza: Element): void {
    if (stanza.name === "presence") this.#notify(this.#presence, stanza);
    else if (stanza.name === "message") this.#notify(this.#message, stanza);
  }

  /**
   * An IQ get/set with its single child (xmpp.js's iqHandler has checked the
   * shape). Returns the result payload, `true` for an empty result, or an
   * `<error/>` element; never throws.
   */
  async handleIq(stanza: Element, element: Element): Promise<IqResult> {
    const type = stanza.attrs.type as IqType;
    const handler = this.#iq.get(key(type, element.attrs.xmlns ?? "", element.name));
    if (!handler) return new StanzaError("service-unavailable").toElement();
    const request: IqRequest = { stanza, element, from: stanza.attrs.from, to: stanza.attrs.to };
    try {
      return await handler(request);
    } catch (err) {
      if (err instanceof StanzaError) return err.toElement();
      this.#crash(stanza, err);
      return new StanzaError("internal-server-error").toElement();
    }
  }

  #register(type: IqType, ns: string, name: string, handler: IqHandler): void {
    const k = key(type, ns, name);
    if (this.#iq.has(k)) throw new Error(`an IQ handler for ${k} is already registered`);
    this.#iq.set(k, handler);
  }

  #notify(listeners: StanzaListener[], stanza: Element): void {
    for (const listener of listeners) {
      try {
        const result = listener(stanza);
        if (result) result.catch((err) => this.#crash(stanza, err));
      } catch (err) {
        this.#crash(stanza, err);
      }
    }
  }

  #crash(stanza: Element, err: unknown): void {
    this.#log.error({ err, stanza: stanza.toString().slice(0, 500) }, "stanza handler failed");
  }
}
