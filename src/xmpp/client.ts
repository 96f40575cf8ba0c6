/**
 * jabmon's XMPP client connection (agents, bots, tests), assembled from
 * xmpp.js 0.14 plugins rather than @xmpp/client's kitchen sink (WebSocket,
 * SASL2, FAST, bind2, DNS resolution, its own reconnect): fewer modules
 * loaded, less memory in the agent (node20-notes: ~2 MB saved), and stream
 * management under our control.
 *
 * XEP-0198 stream management is optional and off by default. @xmpp/client
 * 0.14 registers its stream-management middleware after the IQ caller and
 * callee, which consume IQ replies and requests without passing them on, so
 * its inbound counter `h` misses every IQ result: ejabberd's unacknowledged
 * queue then grows with each publish until `max_ack_queue` ends the session.
 * When enabled here, stream management is set up BEFORE the IQ plugins so that
 * it counts every stanza. Either way the agent does not depend on it: every
 * result stays in the spool until its publish IQ is answered.
 *
 * https://xmpp.org/extensions/xep-0198.html
 */
import * as core from "@xmpp/client-core";
import iqCalleeTyped from "@xmpp/iq/callee.js";
import iqCallerTyped from "@xmpp/iq/caller.js";
import middlewareTyped from "@xmpp/middleware";
import resourceBindingTyped from "@xmpp/resource-binding";
import saslTyped from "@xmpp/sasl";
import plain from "@xmpp/sasl-plain";
import scramSha1 from "@xmpp/sasl-scram-sha-1";
import starttls from "@xmpp/starttls";
import streamFeaturesTyped from "@xmpp/stream-features";
import streamManagementTyped from "@xmpp/stream-management";
import tcp from "@xmpp/tcp";
import tls from "@xmpp/tls";
import SASLFactory from "saslmechanisms";
import { guardLateData } from "./guard.js";
import type { Element } from "./ltx.js";
import { useNativeScram } from "./scram.js";

// The published @types describe xmpp.js 0.13; the 0.14 factories differ in detail.
// biome-ignore-start lint/suspicious/noExplicitAny: untyped plugin factories
const { Client, jid } = core as any;
const iqCaller_ = iqCallerTyped as any;
const iqCallee_ = iqCalleeTyped as any;
const middlewareFactory = middlewareTyped as any;
const resourceBinding = resourceBindingTyped as any;
const sasl = saslTyped as any;
const streamFeaturesFactory = streamFeaturesTyped as any;
const streamManagementFactory = streamManagementTyped as any;
// biome-ignore-end lint/suspicious/noExplicitAny: untyped plugin factories

export interface XmppClient {
  status: string;
  jid: { toString(): string; bare(): { toString(): string } } | null;
  iqCaller: { request(element: Element, timeoutMs?: number): Promise<Element> };
  iqCallee: { set(ns: string, name: string, handler: (ctx: never) => unknown): void };
  streamManagement?: { enabled: boolean; outbound: number; inbound: number; outbound_q: unknown[] };
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(element: Element): Promise<void>;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

export interface ClientOptions {
  service: string;
  jid: string;
  password: string;
  resource: string;
  streamManagement: boolean;
}

export function assembleClient(options: ClientOptions): XmppClient {
  const [username, domain] = options.jid.split("@") as [string, string];
  const entity = new Client({ service: options.service, domain });
  entity.jid = jid(username, domain);
  tcp({ entity });
  tls({ entity });
  const middleware = middlewareFactory({ entity });
  const streamFeatures = streamFeaturesFactory({ middleware });
  // Before the IQ plugins: see the file comment.
  const streamManagement = options.streamManagement
    ? streamManagementFactory({ streamFeatures, entity, middleware })
    : undefined;
  const iqCaller = iqCaller_({ middleware, entity });
  const callee = iqCallee_({ middleware, entity });
  callee.get("urn:xmpp:ping", "ping", () => ({}));
  starttls({ streamFeatures });
  useNativeScram();
  const saslFactory = new SASLFactory();
  scramSha1(saslFactory);
  plain(saslFactory);
  sasl(
    { streamFeatures, saslFactory },
    async (
      done: (credentials: unknown, mechanism: string) => Promise<void>,
      mechanisms: string[],
      _fast: unknown,
      ent: { isSecure(): boolean },
    ) => {
      // PLAIN only over TLS; SCRAM otherwise.
      const mechanism = ent.isSecure()
        ? (mechanisms[0] as string)
        : (mechanisms.find((m) => m !== "PLAIN") ?? "");
      await done({ username, password: options.password }, mechanism);
    },
  );
  resourceBinding({ streamFeatures, iqCaller }, options.resource);
  return guardLateData(
    Object.assign(entity, { iqCaller, iqCallee: callee, streamManagement }),
  ) as XmppClient;
}
