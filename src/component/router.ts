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

const key = (type: IqType, ns: string, name: string) => `${type} ${name} ${ns}`;

export class Router {
  readonly #iq = new Map<string, IqHandler>();
  readonly #presence: StanzaListener[] = [];
  readonly #message: StanzaListener[] = [];
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
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
