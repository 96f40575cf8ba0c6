/**
 * The XEP-0114 link to ejabberd. One component process is one JID (e.g.
 * monitor.localhost); every stanza to it goes through the Router.
 *
 * https://xmpp.org/extensions/xep-0114.html
 */
import type { Socket } from "node:net";
import { component as xmppComponent } from "@xmpp/component";
import type { Logger } from "../log/index.js";
import { coalesceWrites } from "../net/index.js";
import type { Element } from "../xmpp/index.js";
import { type ConnectionKeeper, guardLateData, keepConnected } from "../xmpp/index.js";
import { Router } from "./router.js";

export { registerBuiltins } from "./builtins.js";
export {
  type IqHandler,
  type IqRequest,
  type IqResult,
  Router,
  type StanzaListener,
} from "./router.js";

export interface ComponentOptions {
  /** e.g. xmpp://127.0.0.1:5347 */
  service: string;
  /** The component's JID, e.g. monitor.localhost */
  domain: string;
  password: string;
  log: Logger;
}

export interface ComponentLink {
  readonly jid: string;
  readonly router: Router;
  /** Send a stanza; dropped (and logged at debug) while the link is down. */
  send(element: Element): void;
  /** Send an IQ and wait for its result element. */
  request(element: Element, timeoutMs?: number): Promise<Element>;
  isOnline(): boolean;
  /** Called on every (re)connection, e.g. to re-probe agents. */
  onOnline(listener: () => void): void;
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
  let keeper: ConnectionKeeper | undefined;

  const send = (element: Element) => {
    if (xmpp.status !== "online") {
      log.debug({ to: element.attrs.to }, "link down, stanza dropped");
      return;
    }
    xmpp.send(element).catch((err: Error) => log.warn({ err: err.message }, "send failed"));
  };
  const router = new Router(log);

  // Runs after xmpp.js's iqCaller (which consumes replies to our requests) and
  // iqCallee (which validates IQ get/set, sets ctx.element and sends whatever
  // we return as the reply). One Map lookup replaces its per-handler chain.
  xmpp.middleware.use((ctx: { stanza: Element; element?: Element }) => {
    const { stanza, element } = ctx;
    if (stanza.name === "iq") return element ? router.handleIq(stanza, element) : undefined;
    router.dispatch(stanza);
    return undefined;
  });

  return {
    jid: options.domain,
    router,
    send,
    request: (element, timeoutMs = 10_000) => xmpp.iqCaller.request(element, timeoutMs),
    isOnline: () => xmpp.status === "online",
    onOnline: (listener) => onlineListeners.push(listener),
    async start() {
      keeper = keepConnected(xmpp, {
        log,
        onOnline: () => {
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
