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
 * Transport security is required by default: the server must offer STARTTLS
 * (or the service is xmpps://), the upgrade must succeed, and the server's
 * certificate must verify against Node's CA store plus `caFile`, for the XMPP
 * domain; otherwise the client refuses to authenticate (TlsRequiredError) and
 * sends no credentials. `insecure: true` allows SCRAM over plain TCP, for
 * loopback tests and benchmarks only (docs/security.md). SASL: ./sasl.ts.
 *
 * https://xmpp.org/extensions/xep-0198.html
 * https://xmpp.org/rfcs/rfc6120.html#tls
 */
import { readFileSync } from "node:fs";
import {
  createSecureContext,
  rootCertificates,
  type SecureContext,
  type TLSSocket,
} from "node:tls";
import * as core from "@xmpp/client-core";
import { Deferred, promise, timeout as timeoutPromise } from "@xmpp/events";
import iqCalleeTyped from "@xmpp/iq/callee.js";
import iqCallerTyped from "@xmpp/iq/caller.js";
import middlewareTyped from "@xmpp/middleware";
import resourceBindingTyped from "@xmpp/resource-binding";
import streamFeaturesTyped from "@xmpp/stream-features";
import streamManagementTyped from "@xmpp/stream-management";
import tcp from "@xmpp/tcp";
import ConnectionTLS from "@xmpp/tls/lib/Connection.js";
import TlsSocketTyped from "@xmpp/tls/lib/Socket.js";
import { guardLateData } from "./guard.js";
import { type Element, el } from "./ltx.js";
import { StreamParser } from "./parser.js";
import {
  channelBindingFor,
  chooseMechanism,
  type MechanismChoice,
  NS_SASL,
  NS_SASL_CB,
  SaltedPasswordCache,
  SaslError,
  ScramClient,
} from "./sasl.js";

// The published @types describe xmpp.js 0.13; the 0.14 factories differ in detail.
// biome-ignore-start lint/suspicious/noExplicitAny: untyped plugin factories
const { Client, jid } = core as any;
const iqCaller_ = iqCallerTyped as any;
const iqCallee_ = iqCalleeTyped as any;
const middlewareFactory = middlewareTyped as any;
const resourceBinding = resourceBindingTyped as any;
const streamFeaturesFactory = streamFeaturesTyped as any;
const streamManagementFactory = streamManagementTyped as any;
const TlsSocket = TlsSocketTyped as any;
const promise_ = promise as any;
/** An xmpp.js entity (Connection internals: socket, sendReceive, _attachSocket...). */
type Entity = any;
// biome-ignore-end lint/suspicious/noExplicitAny: untyped plugin factories

const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";
const TLS_HANDSHAKE_TIMEOUT_MS = 15_000;
const NEGOTIATION_STEP_TIMEOUT_MS = 15_000;

/** The transport with StreamParser (./parser.ts) instead of @xmpp/xml's Parser. */
function withStreamParser(Transport: Entity): Entity {
  const Hardened = class extends Transport {};
  Hardened.prototype.Parser = StreamParser;
  return Hardened;
}

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

/** TLS settings shared by the client and `jabmon account add`. */
export interface TlsClientOptions {
  /** PEM file of CA certificates trusted in addition to Node's store (a self-signed server's certificate). */
  caFile?: string;
  /**
   * Allow authenticating over plain TCP when the server offers no STARTTLS.
   * For loopback tests and benchmarks only: an on-path attacker can strip TLS.
   */
  insecure?: boolean;
  /** Passed to Node's TLS (tests pin TLS 1.2 to exercise channel binding). */
  maxVersion?: "TLSv1.2" | "TLSv1.3";
}

export interface ClientOptions extends TlsClientOptions {
  service: string;
  jid: string;
  password: string;
  resource: string;
  streamManagement: boolean;
}

/** The client refused to authenticate because the connection is not protected by verified TLS. */
export class TlsRequiredError extends Error {
  override name = "TlsRequiredError";
}

/** Node's CA store plus the caller's file, read once (a bad path fails at start-up, naming it). */
export function trustedCas(caFile: string | undefined): string[] | undefined {
  if (!caFile) return undefined;
  let pem: string;
  try {
    pem = readFileSync(caFile, "utf8");
  } catch (err) {
    throw new TlsRequiredError(`caFile ${caFile} cannot be read: ${(err as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----"))
    throw new TlsRequiredError(`caFile ${caFile} holds no PEM certificate`);
  return [...rootCertificates, pem];
}

/**
 * TLS contexts by CA bundle and version cap. A context given only `ca` is
 * built anew by every tls.connect(), parsing Node's ~140 root certificates
 * plus ours: 37 s of CPU over the ~1,500 connections of a 500-session
 * bench:restart profile (about 25 ms each), and a reconnect storm of 2,000
 * sessions in one process stayed CPU-bound for minutes. One context per
 * bundle is shared by every connection using it.
 */
const secureContexts = new Map<string, SecureContext>();

function sharedSecureContext(ca: string[], maxVersion: TlsClientOptions["maxVersion"]) {
  const key = `${maxVersion ?? ""}\n${ca[ca.length - 1]}`;
  let context = secureContexts.get(key);
  if (!context) {
    context = createSecureContext({
      ca,
      minVersion: "TLSv1.2",
      ...(maxVersion ? { maxVersion } : {}),
    });
    secureContexts.set(key, context);
  }
  return context;
}

/** Options for tls.connect that verify the server as `domain`. */
export function tlsConnectOptions(domain: string, options: TlsClientOptions) {
  const ca = trustedCas(options.caFile);
  return {
    host: domain,
    servername: domain,
    rejectUnauthorized: true,
    minVersion: "TLSv1.2" as const,
    ...(ca ? { secureContext: sharedSecureContext(ca, options.maxVersion) } : {}),
    ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
  };
}

export function assembleClient(options: ClientOptions): XmppClient {
  const [username, domain] = options.jid.split("@") as [string, string];
  const tlsOptions = tlsConnectOptions(domain, options);
  const entity = new Client({ service: options.service, domain });
  entity.jid = jid(username, domain);
  tcp({ entity });
  // xmpps:// (direct TLS) with the same verification as STARTTLS.
  entity.transports.push(
    class VerifiedTLS extends (ConnectionTLS as Entity) {
      socketParameters(service: string) {
        const params = super.socketParameters(service);
        return params && { ...params, ...tlsOptions, host: params.host };
      }
    },
  );
  entity.transports = entity.transports.map(withStreamParser);
  // xmpp.js gives each step of the negotiation (stream open, STARTTLS, SASL,
  // bind) 2 s. An ejabberd taking back a 10,000-session herd answers later
  // than that: every attempt then timed out and came back, and the herd never
  // shrank. keepConnected still bounds the whole attempt (15 s).
  entity.timeout = NEGOTIATION_STEP_TIMEOUT_MS;
  const salted = new SaltedPasswordCache();
  const middleware = middlewareFactory({ entity });
  const streamFeatures = streamFeaturesFactory({ middleware });
  // Before the IQ plugins: see the file comment.
  const streamManagement = options.streamManagement
    ? streamManagementFactory({ streamFeatures, entity, middleware })
    : undefined;
  const iqCaller = observeEarlyReplies(iqCaller_({ middleware, entity }));
  const callee = iqCallee_({ middleware, entity });
  callee.get("urn:xmpp:ping", "ping", () => ({}));
  streamFeatures.use(
    "starttls",
    NS_TLS,
    async ({ entity: ent }: { entity: Entity }, next: () => unknown) => {
      if (ent.isSecure()) return next();
      await startTls(ent, tlsOptions);
      await ent.restart();
    },
  );
  streamFeatures.use(
    "mechanisms",
    NS_SASL,
    async ({ entity: ent, stanza }: { entity: Entity; stanza: Element }) => {
      if (!ent.isSecure() && !options.insecure)
        throw new TlsRequiredError(
          `${options.service} offered no STARTTLS: refusing to authenticate over plain TCP ` +
            "(set insecure only for a loopback test server)",
        );
      await authenticate(ent, stanza as Element, { username, password: options.password, salted });
      await ent.restart();
    },
  );
  resourceBinding({ streamFeatures, iqCaller }, options.resource);
  observeOnlineWait(entity);
  observeOpenWait(entity);
  return guardLateData(
    Object.assign(entity, { iqCaller, iqCallee: callee, streamManagement }),
  ) as XmppClient;
}

interface IqCallerInternals {
  handlers: Map<string, { promise: Promise<Element> }>;
  entity: { send(stanza: Element): Promise<void> };
  request(stanza: Element, timeoutMs?: number): Promise<Element>;
}

let iqCounter = 0;

/**
 * xmpp.js 0.14's iqCaller.request() creates the reply's promise, then awaits
 * send() (the socket's write callback) before it awaits that promise. A reply
 * that arrives in between rejects a promise nobody observes yet, and Node ends
 * the process on the unhandled rejection. Over TLS the write callback comes
 * later, and ejabberd bounces an IQ to a component that is offline at once
 * (remote-server-not-found): an agent that came back before the component
 * crashed (seen in agent-spool.test.ts). Same logic, the rejection observed
 * from the start.
 */
export function observeEarlyReplies<T extends IqCallerInternals>(caller: T): T {
  caller.request = async function request(stanza: Element, timeoutMs = 30_000) {
    stanza.attrs.id ??= `jm${(++iqCounter).toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const id = stanza.attrs.id as string;
    const deferred = new (Deferred as unknown as new () => { promise: Promise<Element> })();
    deferred.promise.catch(() => {});
    caller.handlers.set(id, deferred);
    try {
      await caller.entity.send(stanza);
      await timeoutPromise(deferred.promise, timeoutMs);
    } catch (err) {
      caller.handlers.delete(id);
      throw err;
    }
    return deferred.promise;
  };
  return caller;
}

/** RFC 6120 §5.4: ask for TLS, then upgrade the socket, verifying the certificate. */
async function startTls(entity: Entity, tlsOptions: ReturnType<typeof tlsConnectOptions>) {
  const answer = await sendAndAwaitAnswer(
    entity,
    el("starttls", { xmlns: NS_TLS }),
    entity.timeout ?? TLS_HANDSHAKE_TIMEOUT_MS,
  );
  if (!answer.is("proceed", NS_TLS)) throw new TlsRequiredError("the server refused STARTTLS");
  const tlsSocket = new TlsSocket();
  tlsSocket.connect({ socket: entity.socket, ...tlsOptions });
  try {
    // Bounded: a server that stops mid-handshake must not leave the client
    // "connecting" for ever (the reconnect loop waits for this attempt to end).
    await promise_(tlsSocket, "connect", "error", TLS_HANDSHAKE_TIMEOUT_MS);
  } catch (err) {
    tlsSocket.socket?.destroy?.();
    throw new TlsRequiredError(
      `TLS with ${tlsOptions.servername} failed: ${(err as Error).message} (is caFile set to the server's CA?)`,
    );
  }
  entity._attachSocket(tlsSocket);
}

interface Credentials {
  username: string;
  password: string;
  salted: SaltedPasswordCache;
}

async function authenticate(entity: Entity, features: Element, credentials: Credentials) {
  const mechanisms = features.getChild("mechanisms", NS_SASL);
  const offered = (mechanisms?.getChildren("mechanism") ?? []).map((m) => m.text());
  const secure = entity.isSecure() === true;
  const advertised = features
    .getChild("sasl-channel-binding", NS_SASL_CB)
    ?.getChildren("channel-binding")
    .map((c) => c.attrs.type as string);
  const binding = secure
    ? channelBindingFor(entity.socket.socket as TLSSocket, advertised)
    : undefined;
  const choice = chooseMechanism(offered, secure, binding);
  if (!choice)
    throw new SaslError(`no acceptable SASL mechanism offered (${offered.join(", ") || "none"})`);
  entity.emit("sasl", choice.mechanism);
  await exchange(entity, choice, credentials);
}

async function exchange(
  entity: Entity,
  choice: MechanismChoice,
  { username, password, salted }: Credentials,
) {
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
  const scram =
    choice.hash &&
    new ScramClient({ hash: choice.hash, username, password, binding: choice.binding, salted });
  const initial = scram ? scram.first() : `\0${username}\0${password}`;
  await saslProcedure(
    entity,
    el("auth", { xmlns: NS_SASL, mechanism: choice.mechanism }, b64(initial)),
    async (element: Element, done: () => void) => {
      if (element.getNS() !== NS_SASL) return;
      if (element.name === "challenge" && scram) {
        const reply = await scram.final(unb64(element.text()));
        await entity.send(el("response", { xmlns: NS_SASL }, b64(reply)));
      } else if (element.name === "success") {
        // RFC 6120 §6.3.10: SCRAM's server-final message rides on <success/>.
        scram?.verify(unb64(element.text()));
        done();
      } else if (element.name === "failure") {
        const condition = element.getChildElements()[0]?.name ?? "unknown";
        const text = element.getChildText("text");
        throw new SaslError(
          `authentication failed: ${condition}${text ? ` (${text})` : ""}`,
          condition,
        );
      } else {
        throw new SaslError(`unexpected SASL element <${element.name}/>`);
      }
    },
  );
}

/** Connection states after which an unfinished negotiation step can never finish. */
const CONNECTION_GONE = ["disconnect", "close", "offline"] as const;

/**
 * Listens on the entity for one negotiation step and detaches when it ends,
 * or rejects with `goneError` when the connection ends first. xmpp.js's own
 * helpers (procedure(), sendReceive()) listen on the entity, not the socket,
 * and outlive a dropped connection: a SASL listener cut off mid-handshake
 * answered the NEXT connection's challenge with the old client nonce, failing
 * that attempt and leaving the same trap for the one after it (the agent never
 * came back online); sendReceive()'s answer timer kept running after send()
 * failed and surfaced as an unhandled TimeoutError.
 */
function negotiationStep<T>(
  entity: Entity,
  bounds: { goneError: () => Error; timeoutMs?: number; timeoutError?: () => Error },
  listen: (
    finish: (err: Error | undefined, value?: T) => void,
  ) => Record<string, (arg: never) => void>,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer =
      bounds.timeoutMs === undefined
        ? undefined
        : setTimeout(() => finish(bounds.timeoutError?.() ?? bounds.goneError()), bounds.timeoutMs);
    const finish = (err: Error | undefined, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const [event, fn] of Object.entries(listeners)) entity.removeListener(event, fn);
      if (err) reject(err);
      else resolve(value as T);
    };
    const onGone = () => finish(bounds.goneError());
    const listeners: Record<string, (arg: never) => void> = {
      ...Object.fromEntries(CONNECTION_GONE.map((state) => [state, onGone])),
      ...listen(finish),
    };
    for (const [event, fn] of Object.entries(listeners)) entity.on(event, fn);
  });
}

/** @xmpp/events' procedure() for the SASL exchange, ending with its connection. */
function saslProcedure(
  entity: Entity,
  auth: Element,
  handler: (element: Element, done: () => void) => Promise<void>,
): Promise<void> {
  return negotiationStep<void>(
    entity,
    { goneError: () => new SaslError("the connection closed during authentication") },
    (finish) => {
      entity.send(auth).catch((err: Error) => finish(err));
      return {
        nonza: (element: Element) =>
          handler(element, () => finish(undefined)).catch((err: Error) => finish(err)),
      };
    },
  );
}

/** Sends `request` and resolves with the next top-level element, within `timeoutMs`. */
function sendAndAwaitAnswer(entity: Entity, request: Element, timeoutMs: number): Promise<Element> {
  return negotiationStep<Element>(
    entity,
    {
      goneError: () => new TlsRequiredError(`the connection closed during <${request.name}/>`),
      timeoutMs,
      timeoutError: () =>
        new TlsRequiredError(`no answer to <${request.name}/> in ${timeoutMs} ms`),
    },
    (finish) => {
      entity.send(request).catch((err: Error) => finish(err));
      return {
        element: (answer: Element) => finish(undefined, answer),
        error: (err: Error) => finish(err),
      };
    },
  );
}

/**
 * xmpp.js's Connection.start(), with its wait for "online" observed from the
 * start and ended with the connection. xmpp.js leaves that wait (a listener
 * on "error") behind when open() or a negotiation step fails: every abandoned
 * attempt added one, and the next "error" event rejected them all unobserved
 * (hundreds of unhandled rejections during an ejabberd restart).
 */
function observeOnlineWait(entity: Entity) {
  entity.start = async function start(this: Entity) {
    if (this.status !== "offline") throw new Error("Connection is not offline");
    const { service, domain, lang } = this.options;
    await this.connect(service);
    const online = negotiationStep<unknown>(
      this,
      { goneError: () => new Error("the connection closed before the session was online") },
      (finish) => ({
        online: (address: unknown) => finish(undefined, address),
        error: (err: Error) => finish(err),
      }),
    );
    online.catch(() => undefined);
    await this.open({ domain, lang });
    return online;
  };
}

/**
 * xmpp.js's Connection.open(), with its wait for the server's stream header
 * ended with the connection. xmpp.js waits for "open" or "error" for the
 * entity's step timeout (15 s here) even after the attempt was abandoned:
 * one leftover "error" listener per abandoned attempt until then.
 */
function observeOpenWait(entity: Entity) {
  entity.open = async function open(
    this: Entity,
    { domain, lang }: { domain: string; lang?: string },
  ) {
    this._status("opening");
    const header = this.headerElement();
    header.attrs.to = domain;
    header.attrs["xml:lang"] = lang;
    this.root = header;
    this._attachParser(new this.Parser());
    const opened = negotiationStep<Element>(
      this,
      {
        goneError: () => new Error("the connection closed before the stream opened"),
        timeoutMs: this.timeout,
        timeoutError: () => new Error(`no stream header from the server in ${this.timeout} ms`),
      },
      (finish) => ({
        open: (element: Element) => finish(undefined, element),
        error: (err: Error) => finish(err),
      }),
    );
    opened.catch(() => undefined);
    await this.write(this.header(header));
    return opened;
  };
}
