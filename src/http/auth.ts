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

export function installAccessControl(app: FastifyInstance, access: HttpAccess): void {
  assertHttpAccess(access);
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
