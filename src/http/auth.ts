/**
 * Access to the status server. Bound to loopback it is open (the machine's
 * users can read it); bound anywhere else it requires a bearer token or HTTP
 * basic credentials, and refuses to start without one.
 */
import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";

export interface HttpAccess {
  host: string;
  token?: string | undefined;
  /** "user:password" */
  basic?: string | undefined;
  /** Extra Host header names accepted when bound to loopback. */
  allowedHosts?: string[] | undefined;
}

export class HttpAccessError extends Error {
  override name = "HttpAccessError";
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Refuse a status server open to the network: beyond loopback it needs credentials. */
export function assertHttpAccess(access: HttpAccess): void {
  if (access.token || access.basic || isLoopback(access.host)) return;
  throw new HttpAccessError(
    `http.host is ${access.host}, not loopback: set http.token (JABMON_HTTP_TOKEN) or http.basic (JABMON_HTTP_BASIC) so the status page is not open to the network`,
  );
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]", "::1"];

/** The host name of a Host header: lower case, without the port. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const colon = h.lastIndexOf(":");
  return colon >= 0 ? h.slice(0, colon) : h;
}

/**
 * Bound to loopback, the page is open to the machine's users, and so to any
 * web page a local browser opens that re-points its own DNS name at 127.0.0.1
 * (DNS rebinding): such a request carries the attacker's name in Host. Only
 * loopback names, the bound host and http.allowedHosts are served; any other
 * Host gets 421 Misdirected Request (RFC 9110 §15.5.20).
 */
function installHostCheck(app: FastifyInstance, access: HttpAccess): void {
  if (!isLoopback(access.host)) return;
  const allowed = new Set(
    [...LOOPBACK_NAMES, access.host, ...(access.allowedHosts ?? [])].map((h) => h.toLowerCase()),
  );
  app.addHook("onRequest", async (request, reply) => {
    const name = hostName(request.headers.host ?? "");
    if (allowed.has(name)) return;
    return reply.code(421).send({
      statusCode: 421,
      error: "Misdirected Request",
      message: "this Host is not served here (add it to http.allowedHosts)",
    });
  });
}

export function installAccessControl(app: FastifyInstance, access: HttpAccess): void {
  assertHttpAccess(access);
  installHostCheck(app, access);
  if (!access.token && !access.basic) return;
  const basic = access.basic ? `Basic ${Buffer.from(access.basic).toString("base64")}` : undefined;
  const bearer = access.token ? `Bearer ${access.token}` : undefined;
  app.addHook("onRequest", async (request, reply) => {
    // Load balancers probe health without credentials; it reveals nothing about hosts.
    if (request.url === "/healthz") return;
    const given = request.headers.authorization ?? "";
    if ((bearer && same(given, bearer)) || (basic && same(given, basic))) return;
    reply.header("www-authenticate", 'Basic realm="jabmon", charset="UTF-8"');
    return reply
      .code(401)
      .send({ statusCode: 401, error: "Unauthorized", message: "credentials required" });
  });
}
