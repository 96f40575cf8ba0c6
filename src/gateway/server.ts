/**
 * The HTTP gateway to Jabber-RPC: `POST /RPC2` (XML-RPC over HTTP, as any
 * XML-RPC library sends it) and `POST /api/rpc/<method>` (JSON). It runs in
 * the component process on its own listener and hands each call to the
 * component's RPC service in-process, as the JID its token is mapped to: the
 * same access lists, limits, codec and faults as a `jabber:iq:rpc` IQ from
 * that JID, and calls that run on an agent go through the same forwarder
 * (offline queue, expiry, agent timeout). docs/gateway.md describes it.
 *
 * http://xmlrpc.com/spec.md · https://xmpp.org/extensions/xep-0009.html
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "../log/index.js";
import { NS_RPC } from "../protocol/index.js";
import {
  decodeMethodResponse,
  FAULTS,
  faultQuery,
  methodCallQuery,
  RpcFault,
  type RpcService,
} from "../rpc/index.js";
import { type Element, el, ltx, StanzaError } from "../xmpp/index.js";
import { jsonParams, rpcToJson } from "./json.js";
import { InFlight, RateLimiter } from "./limits.js";
import { presentedToken, type TokenEntry, TokenTable } from "./tokens.js";

export interface GatewayConfig {
  host: string;
  port: number;
  tokens: TokenEntry[];
  tlsCert: string;
  tlsKey: string;
  maxBodyBytes: number;
  callsPerSecond: number;
  maxInFlight: number;
  callTimeoutMs: number;
}

export interface GatewayOptions {
  rpc: Pick<RpcService, "invoke">;
  config: GatewayConfig;
  log: Logger;
}

/** The resource gateway calls come from: a reply deferred past a restart goes nowhere. */
export const GATEWAY_RESOURCE = "jabmon-gateway";

const FAULT_NAMES = new Map<number, string>(Object.entries(FAULTS).map(([n, c]) => [c, n]));

/** HTTP status of a fault on /api/rpc (/RPC2 answers every fault with 200, as XML-RPC does). */
const FAULT_STATUS: Record<number, number> = {
  [FAULTS.JABMON_RPC_MALFORMED]: 400,
  [FAULTS.JABMON_RPC_INVALID_REQUEST]: 400,
  [FAULTS.JABMON_RPC_UNKNOWN_METHOD]: 404,
  [FAULTS.JABMON_RPC_BAD_PARAMS]: 400,
  [FAULTS.JABMON_RPC_INTERNAL]: 500,
  [FAULTS.JABMON_RPC_NOT_FOUND]: 404,
  [FAULTS.JABMON_RPC_AGENT_OFFLINE]: 503,
  [FAULTS.JABMON_RPC_EXPIRED]: 504,
  [FAULTS.JABMON_RPC_AGENT_FAILED]: 502,
  [FAULTS.JABMON_RPC_NO_SUCH_CHECK]: 404,
  [FAULTS.JABMON_RPC_QUEUE_FULL]: 503,
  [FAULTS.JABMON_RPC_TOO_MANY_PENDING]: 429,
  // The caller must ask for less (a page): like a bad parameter, not a server failure.
  [FAULTS.JABMON_RPC_REPLY_TOO_BIG]: 400,
};

/** A refusal before or around the call: an HTTP status and a sentence. */
class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

declare module "fastify" {
  interface FastifyRequest {
    /** The bare JID the caller's token is mapped to (set by the auth hook). */
    gatewayJid?: string;
  }
}

const isJsonRoute = (request: FastifyRequest) => request.url.startsWith("/api/");

function sendRefusal(request: FastifyRequest, reply: FastifyReply, refusal: HttpRefusal) {
  reply.code(refusal.status).headers(refusal.headers);
  if (isJsonRoute(request))
    return reply.send({ error: { name: httpName(refusal.status), message: refusal.message } });
  return reply.type("text/plain; charset=utf-8").send(`${refusal.message}\n`);
}

function httpName(status: number): string {
  const names: Record<number, string> = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
    503: "service-unavailable",
    504: "gateway-timeout",
  };
  return names[status] ?? "error";
}

export function buildGateway(options: GatewayOptions): FastifyInstance {
  const { rpc, config, log } = options;
  const tokens = new TokenTable(config.tokens);
  const rate = new RateLimiter(config.callsPerSecond);
  const inFlight = new InFlight(config.maxInFlight);
  const https =
    config.tlsCert !== ""
      ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }
      : null;
  // Fastify's own logger stays off: ours logs the JID and the method, never the Authorization header.
  const app = Fastify({ logger: false, bodyLimit: config.maxBodyBytes, https }) as FastifyInstance;

  app.addContentTypeParser(
    ["text/xml", "application/xml"],
    { parseAs: "string" },
    (_request, body, done) => done(null, body),
  );

  // Before the body is read: who is calling, and may they call now?
  app.addHook("onRequest", async (request, reply) => {
    const token = presentedToken(request.headers.authorization);
    const caller = token === undefined ? undefined : tokens.lookup(token);
    if (!caller) {
      log.info({ ip: request.ip, url: request.url }, "gateway call without a valid token refused");
      return sendRefusal(
        request,
        reply,
        new HttpRefusal(401, "a valid gateway token is required (Authorization: Bearer TOKEN)", {
          "www-authenticate": 'Bearer realm="jabmon", Basic realm="jabmon"',
        }),
      );
    }
    if (!rate.take(caller.key)) {
      log.info({ jid: caller.jid }, "gateway call over the rate limit refused");
      return sendRefusal(
        request,
        reply,
        new HttpRefusal(
          429,
          `more than ${config.callsPerSecond} calls per second for this token; retry later`,
          { "retry-after": "1" },
        ),
      );
    }
    request.gatewayJid = caller.jid;
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
    const status =
      err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    const message =
      status === 413
        ? `request body larger than ${config.maxBodyBytes} bytes`
        : status === 500
          ? "internal error"
          : err.message;
    if (status === 500) log.error({ err }, "gateway request failed");
    return sendRefusal(request, reply, new HttpRefusal(status, message));
  });
  app.setNotFoundHandler((request, reply) =>
    sendRefusal(
      request,
      reply,
      new HttpRefusal(404, "POST /RPC2 (XML-RPC) or /api/rpc/<method> (JSON)"),
    ),
  );

  /** One call, as the caller's mapped JID, bounded in flight and in time. */
  const invoke = async (jid: string, query: Element): Promise<Element> => {
    if (!inFlight.tryEnter())
      throw new HttpRefusal(
        503,
        `${config.maxInFlight} calls are being answered already; retry later`,
        { "retry-after": "1" },
      );
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new HttpRefusal(
                504,
                `no answer within ${Math.round(config.callTimeoutMs / 1000)} s; a call queued for an agent may still run`,
              ),
            ),
          config.callTimeoutMs,
        );
      });
      const call = rpc.invoke({
        from: `${jid}/${GATEWAY_RESOURCE}`,
        query,
        iqId: `gateway-${randomUUID()}`,
      });
      call.catch(() => {}); // answered through the race below; a late rejection is not unhandled
      return await Promise.race([call, timeout]);
    } catch (err) {
      if (err instanceof StanzaError) throw new HttpRefusal(403, err.text ?? err.condition);
      throw err;
    } finally {
      clearTimeout(timer);
      inFlight.leave();
    }
  };

  const logCall = (jid: string, method: string, outcome: string, started: number) =>
    log.info({ jid, method, outcome, ms: Date.now() - started }, "gateway call");

  app.post("/RPC2", async (request, reply) => {
    const jid = request.gatewayJid as string;
    const started = Date.now();
    const answer = (query: Element) =>
      reply
        .type("text/xml; charset=utf-8")
        .send(`<?xml version="1.0"?>\n${query.getChild("methodResponse")?.toString() ?? ""}`);
    const type = String(request.headers["content-type"] ?? "")
      .split(";")[0]
      ?.trim()
      .toLowerCase();
    if (typeof request.body !== "string" || (type !== "text/xml" && type !== "application/xml"))
      return sendRefusal(request, reply, new HttpRefusal(415, "send XML-RPC as text/xml"));
    let call: Element;
    try {
      call = ltx.parse(request.body) as Element;
    } catch (err) {
      return answer(
        faultQuery(FAULTS.JABMON_RPC_MALFORMED, `not well-formed XML: ${(err as Error).message}`),
      );
    }
    if (call.name !== "methodCall")
      return answer(faultQuery(FAULTS.JABMON_RPC_MALFORMED, "the body must be one <methodCall>"));
    const method = call.getChildText("methodName") ?? "";
    try {
      const response = await invoke(jid, el("query", { xmlns: NS_RPC }, call));
      logCall(
        jid,
        method,
        response.getChild("methodResponse")?.getChild("fault") ? "fault" : "ok",
        started,
      );
      return answer(response);
    } catch (err) {
      if (!(err instanceof HttpRefusal)) throw err;
      logCall(jid, method, `http ${err.status}`, started);
      return sendRefusal(request, reply, err);
    }
  });

  app.post<{ Params: { method: string } }>("/api/rpc/:method", async (request, reply) => {
    const jid = request.gatewayJid as string;
    const { method } = request.params;
    const started = Date.now();
    const fault = (f: RpcFault) =>
      reply.code(FAULT_STATUS[f.code] ?? 500).send({
        error: { code: f.code, name: FAULT_NAMES.get(f.code) ?? "fault", message: f.faultString },
      });
    let query: Element;
    try {
      query = methodCallQuery(method, jsonParams(request.body));
    } catch (err) {
      if (err instanceof RpcFault) return fault(err);
      throw err;
    }
    try {
      const decoded = decodeMethodResponse(await invoke(jid, query));
      logCall(jid, method, decoded.ok ? "ok" : "fault", started);
      if (decoded.ok) return reply.send({ result: rpcToJson(decoded.value) });
      return fault(new RpcFault(decoded.code, decoded.message));
    } catch (err) {
      if (!(err instanceof HttpRefusal)) throw err;
      logCall(jid, method, `http ${err.status}`, started);
      return sendRefusal(request, reply, err);
    }
  });

  return app;
}

export interface RunningGateway {
  app: FastifyInstance;
  /** The address actually bound (port 0 picks a free one). */
  url: string;
  stop(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const app = buildGateway(options);
  const url = await app.listen({ host: options.config.host, port: options.config.port });
  options.log.info({ url, tokens: options.config.tokens.length }, "RPC gateway listening");
  return { app, url, stop: () => app.close() };
}
