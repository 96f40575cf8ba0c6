/**
 * The read-only HTTP status server (fastify).
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "../log/index.js";
import { OVERVIEW_PAGE } from "./page.js";
import { type StatusRoutesOptions, statusRoutes } from "./routes.js";

export { type HostView, hostView, statusRoutes } from "./routes.js";

export interface HttpServerOptions extends StatusRoutesOptions {
  log: Logger;
}

export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.log as FastifyBaseLogger,
    disableRequestLogging: true,
  }) as unknown as FastifyInstance;
  app.get("/", async (_request, reply) =>
    reply.type("text/html; charset=utf-8").send(OVERVIEW_PAGE),
  );
  await app.register(statusRoutes, { hosts: options.hosts, health: options.health });
  return app;
}
