/**
 * The XEP-0114 link to ejabberd. One component process is one JID (e.g.
 * monitor.localhost); every stanza to it goes through the Router.
 *
 * https://xmpp.org/extensions/xep-0114.html
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { component as xmppComponent } from "@xmpp/component";
import type { Logger } from "../log/index.js";
import { coalesceWrites } from "../net/index.js";
import type { Element, StanzaCondition } from "../xmpp/index.js";
import {
  type ConnectionKeeper,
  el,
  guardLateData,
  keepConnected,
  StanzaError,
} from "../xmpp/index.js";
import { Router, type StanzaLimits } from "./router.js";

export { registerBuiltins } from "./builtins.js";
export {
  type IqHandler,
  type IqRequest,
  type IqResult,
  Router,
  type StanzaLimits,
  type StanzaListener,
  stanzaShapeProblem,
} from "./router.js";

export interface ComponentOptions {
  /** e.g. xmpp://127.0.0.1:5347 */
  service: string;
  /** The component's JID, e.g. monitor.localhost */
  domain: string;
  password: string;
  log: Logger;
  /** Shape limits for incoming stanzas (depth, element count). */
  stanzaLimits?: StanzaLimits;
  /**
   * This process's name among the component processes sharing the JID
   * (default: random). It prefixes the ids of our IQ requests, so that an
   * answer ejabberd routed to another instance can be relayed back here.
   */
  instanceId?: string;
}

/**
 * Carries IQ answers between the component processes of one JID: ejabberd
 * routes each stanza to any of the connections, so the answer to one
 * process's request may reach another (docs/deploy.md, "Scale-out").
 */
export interface AnswerRelay {
  /** Hand `answer` to the instance named `instanceId` (the prefix of its id). */
  forward(instanceId: string, answer: Element): void;
}

/** The link went down before the answer came: the request may or may not have run. */
export class LinkDownError extends Error {
  override name = "LinkDownError";
}

export interface ComponentLink {
  readonly jid: string;
  readonly router: Router;
  /** Send a stanza; dropped (and logged at debug) while the link is down. */
  send(element: Element): void;
  /**
   * Send a stanza and resolve once it is written to a live link; rejects with
   * LinkDownError while the link is down (e.g. for an outbox that retries).
   */
  sendLive(element: Element): Promise<void>;
  /**
   * Send an IQ and wait for its result element. The answer must come from the
   * JID asked (`to`) with the request's id; an IQ result or error from anyone
   * else is ignored. Rejects with a StanzaError on an error reply, a
   * TimeoutError after `timeoutMs`, a LinkDownError if the link drops first.
   */
  request(element: Element, timeoutMs?: number): Promise<Element>;
  /** Requests waiting for their answer (each ends by answer, timeout or link loss). */
  pendingRequests(): number;
  /** This process's instance id (the prefix of its IQ request ids). */
  readonly instanceId: string;
  /** Send answers to other instances' requests through `relay` instead of dropping them. */
  relayAnswersThrough(relay: AnswerRelay): void;
  /** An answer relayed from another instance: settles our request as if it came over our link. */
  acceptRelayedAnswer(answer: Element): void;
  isOnline(): boolean;
  /** Called on every (re)connection, e.g. to re-probe agents. */
  onOnline(listener: () => void): void;
  /** Called when the link drops (once per outage). */
  onOffline(listener: () => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function componentLink(options: ComponentOptions): ComponentLink {
  const { log } = options;
  const xmpp = guardLateData(
    xmppComponent({
      service: options.service,
      domain: options.domain,
      password: options.password,
    }),
  );
  // Nagle's algorithm with delayed ACKs held each small stanza back ~40 ms
  // (measured by bench:pubsub), so no Nagle; instead the stanzas written in one
  // event-loop turn (e.g. a burst of notifications) leave in one syscall.
  xmpp.on("connect", () => {
    const socket = (xmpp as { socket?: Socket }).socket;
    if (!socket || typeof socket.setNoDelay !== "function") return;
    socket.setNoDelay(true);
    coalesceWrites(socket);
  });
  const onlineListeners: Array<() => void> = [];
  const offlineListeners: Array<() => void> = [];
  let wasOnline = false;
  const wentOffline = () => {
    if (!wasOnline) return;
    wasOnline = false;
    for (const listener of offlineListeners) listener();
  };
  let keeper: ConnectionKeeper | undefined;

  const send = (element: Element) => {
    if (xmpp.status !== "online") {
      log.debug({ to: element.attrs.to }, "link down, stanza dropped");
      return;
    }
    xmpp.send(element).catch((err: Error) => log.warn({ err: err.message }, "send failed"));
  };
  const sendLive = async (element: Element) => {
    if (xmpp.status !== "online") throw new LinkDownError("the component link is down");
    await xmpp.send(element);
  };
  const router = new Router(log, options.stanzaLimits);
  const pending = new Map<string, PendingRequest>();
  const settle = (id: string) => {
    const request = pending.get(id);
    if (request) {
      pending.delete(id);
      clearTimeout(request.timer);
    }
    return request;
  };
  // Every waiter ends with the link: its answer can no longer arrive.
  for (const event of ["offline", "disconnect"])
    xmpp.on(event, () => {
      failAll(pending, "the component link went down");
      wentOffline();
    });

  const instanceId = options.instanceId ?? randomBytes(6).toString("hex");
  let relay: AnswerRelay | undefined;

  const request = (element: Element, timeoutMs = 10_000): Promise<Element> => {
    element.attrs.id ??= `${instanceId}.${randomUUID()}`;
    const id = String(element.attrs.id);
    const to = String(element.attrs.to ?? "");
    return new Promise<Element>((resolve, reject) => {
      if (xmpp.status !== "online") {
        reject(new LinkDownError("the component link is down"));
        return;
      }
      const timer = setTimeout(() => {
        settle(id);
        const err = new Error(`no answer from ${to} within ${timeoutMs} ms`);
        err.name = "TimeoutError";
        reject(err);
      }, timeoutMs);
      timer.unref();
      pending.set(id, { to, resolve, reject, timer });
      xmpp.send(element).catch((err: Error) => {
        settle(id);
        reject(err);
      });
    });
  };

  /**
   * An IQ result/error for one of our requests: consumed if id and sender
   * match. One for another instance's request (its id's prefix) is relayed.
   */
  const answer = (stanza: Element): boolean => {
    const id = String(stanza.attrs.id ?? "");
    const waiting = pending.get(id);
    if (!waiting) return relayElsewhere(id, stanza);
    if (!sameJid(String(stanza.attrs.from ?? ""), waiting.to)) {
      log.warn(
        { id, from: stanza.attrs.from, expected: waiting.to },
        "IQ answer from another JID than the one asked: ignored",
      );
      return true;
    }
    settle(id);
    const refused = router.admit(stanza);
    if (refused) waiting.reject(refused);
    else if (stanza.attrs.type === "error") waiting.reject(errorOf(stanza));
    else waiting.resolve(stanza);
    return true;
  };

  const relayElsewhere = (id: string, stanza: Element): boolean => {
    const dot = id.indexOf(".");
    const owner = dot > 0 ? id.slice(0, dot) : "";
    if (!relay || !owner || owner === instanceId) return false;
    relay.forward(owner, stanza);
    return true;
  };

  // Runs after xmpp.js's iqCallee (which validates IQ get/set, sets
  // ctx.element and sends whatever we return as the reply); xmpp.js's own
  // iqCaller matches answers by id alone and is not used. One Map lookup
  // replaces its per-handler chain.
  xmpp.middleware.use((ctx: { stanza: Element; element?: Element }) => {
    const { stanza, element } = ctx;
    const type = stanza.attrs.type;
    if (stanza.name === "iq" && (type === "result" || type === "error")) {
      answer(stanza);
      return undefined;
    }
    const refused = router.admit(stanza);
    if (refused) {
      if (stanza.name === "iq") {
        if (!element) return undefined;
        // xmpp.js echoes the request's payload in an error reply: not the
        // over-limit tree, which would cost a recursive serialisation as deep
        // as the attacker made it, and as many bytes back.
        element.children = [];
        return refused.toElement();
      }
      if (type !== "error") bounce(stanza, refused);
      return undefined;
    }
    if (stanza.name === "iq") return element ? router.handleIq(stanza, element) : undefined;
    router.dispatch(stanza);
    return undefined;
  });
  /** A refused message or presence gets an error stanza back (never an error for an error). */
  const bounce = (stanza: Element, error: StanzaError) => {
    const { from, to, id } = stanza.attrs;
    if (!from) return;
    send(el(stanza.name, { type: "error", from: to, to: from, id }, error.toElement()));
  };

  return {
    jid: options.domain,
    router,
    send,
    sendLive,
    request,
    pendingRequests: () => pending.size,
    instanceId,
    relayAnswersThrough: (through) => {
      relay = through;
    },
    acceptRelayedAnswer: (stanza) => {
      const id = String(stanza.attrs.id ?? "");
      if (pending.has(id)) answer(stanza);
    },
    isOnline: () => xmpp.status === "online",
    onOnline: (listener) => onlineListeners.push(listener),
    onOffline: (listener) => offlineListeners.push(listener),
    async start() {
      keeper = keepConnected(xmpp, {
        log,
        onOnline: () => {
          wasOnline = true;
          for (const listener of onlineListeners) listener();
        },
      });
      await keeper.firstOnline;
    },
    async stop() {
      await keeper?.stop();
    },
  };
}

interface PendingRequest {
  to: string;
  resolve(stanza: Element): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

function failAll(pending: Map<string, PendingRequest>, why: string): void {
  for (const [id, request] of pending) {
    pending.delete(id);
    clearTimeout(request.timer);
    request.reject(new LinkDownError(why));
  }
}

/** JIDs compare case-insensitively in local part and domain, exactly in the resource. */
function sameJid(a: string, b: string): boolean {
  const split = (jid: string) => {
    const slash = jid.indexOf("/");
    return slash === -1
      ? [jid.toLowerCase(), ""]
      : [jid.slice(0, slash).toLowerCase(), jid.slice(slash + 1)];
  };
  const [bareA, resA] = split(a);
  const [bareB, resB] = split(b);
  return bareA === bareB && resA === resB;
}

/** The StanzaError of an IQ error reply (RFC 6120 §8.3). */
function errorOf(stanza: Element): StanzaError {
  const error = stanza.getChild("error");
  const condition =
    error?.getChildElements().find((c) => c.name !== "text")?.name ?? "undefined-condition";
  const text = error?.getChildText("text") ?? undefined;
  const type = (error?.attrs.type as StanzaError["type"] | undefined) ?? "cancel";
  return new StanzaError(condition as StanzaCondition, { type, text });
}
