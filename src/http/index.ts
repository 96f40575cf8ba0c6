/**
 * The read-only HTTP status server (fastify): the live page, the JSON API,
 * server-sent events and Prometheus metrics.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "../log/index.js";
import { assetRoutes } from "./assets.js";
import { type HttpAccess, installAccessControl } from "./auth.js";
import type { HostIndex } from "./host-index.js";
import { type MetricsOptions, metricsRegistry, metricsRoutes } from "./metrics.js";
import { type StatusDetails, statusRoutes } from "./routes.js";
import { streamRoutes } from "./sse.js";

export { assertHttpAccess, HttpAccessError, isLoopback } from "./auth.js";
export { HostIndex, type HostQuery, STATE_ORDER } from "./host-index.js";
export { type HostView, hostView, type StatusDetails, statusRoutes } from "./routes.js";

export interface HttpServerOptions {
  index: HostIndex;
  details?: StatusDetails;
  log: Logger;
  access: HttpAccess;
  health: () => Promise<Record<string, boolean>>;
  metrics: Omit<MetricsOptions, "index">;
  /** Live-stream limits (http.maxStreams, http.streamBufferBytes). */
  streams?: { max?: number; bufferBytes?: number };
}

export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.log as FastifyBaseLogger,
    disableRequestLogging: true,
    // Live pages hold an event stream open; closing the server must not wait for them.
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  installAccessControl(app, options.access);
  await app.register(assetRoutes);
  await app.register(statusRoutes, {
    index: options.index,
    details: options.details,
    health: options.health,
  });
  await app.register(streamRoutes, { index: options.index, ...options.streams });
  await app.register(metricsRoutes, {
    register: metricsRegistry({ index: options.index, ...options.metrics }),
  });
  return app;
}
