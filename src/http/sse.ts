/**
 * GET /api/stream: server-sent events for the live page. Sends `summary` at
 * once (so headers and a first event go out immediately), then `hosts` with
 * the changed records (batched by the host index) and a fresh `summary`, and a
 * comment every 15 s to keep proxies open.
 */
import type { FastifyPluginAsync } from "fastify";
import type { HostRecord } from "../store/index.js";
import type { HostIndex } from "./host-index.js";
import { hostView } from "./routes.js";

const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

export const streamRoutes: FastifyPluginAsync<{ index: HostIndex }> = async (app, { index }) => {
  // One flush of changes is serialised (and the summary over every host
  // counted) once, whatever the number of open pages.
  const frames = new WeakMap<HostRecord[], string>();
  const frameOf = (records: HostRecord[]) => {
    let frame = frames.get(records);
    if (frame === undefined) {
      frame = event("hosts", records.map(hostView)) + event("summary", index.summary());
      frames.set(records, frame);
    }
    return frame;
  };

  app.get("/api/stream", (request, reply) => {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    raw.write(event("summary", index.summary()));
    const onChange = (records: HostRecord[]) => raw.write(frameOf(records));
    index.on("changes", onChange);
    const heartbeat = setInterval(() => raw.write(": keep-alive\n\n"), 15_000);
    request.raw.on("close", () => {
      clearInterval(heartbeat);
      index.off("changes", onChange);
    });
  });
};
