/**
 * GET /api/stream: server-sent events for the live page. Sends `summary` at
 * once (so headers and a first event go out immediately), then `hosts` with
 * the changed records (batched by the host index) and a fresh `summary`, and a
 * comment every 15 s to keep proxies open.
 *
 * Bounded: at most `max` streams are open (more get 503 with Retry-After),
 * and a client that does not read (its unsent data passes `bufferBytes`) is
 * disconnected rather than buffered without bound; EventSource reconnects and
 * starts again from a fresh summary, so a slow reader loses nothing it needs.
 */
import type { FastifyPluginAsync } from "fastify";
import type { HostRecord } from "../store/index.js";
import type { HostIndex } from "./host-index.js";
import { hostView } from "./routes.js";

const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

export interface StreamOptions {
  index: HostIndex;
  /** Open streams at most (default 200). */
  max?: number | undefined;
  /** Unsent bytes per stream before it is closed (default 1 MiB). */
  bufferBytes?: number | undefined;
}

export const streamRoutes: FastifyPluginAsync<StreamOptions> = async (app, options) => {
  const { index } = options;
  const max = options.max ?? 200;
  const bufferBytes = options.bufferBytes ?? 1_048_576;
  let open = 0;
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
    if (open >= max) {
      return reply
        .code(503)
        .header("retry-after", "10")
        .send({
          statusCode: 503,
          error: "Service Unavailable",
          message: `too many live streams (http.maxStreams is ${max})`,
        });
    }
    open++;
    reply.hijack();
    const raw = reply.raw;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      open--;
      clearInterval(heartbeat);
      index.off("changes", onChange);
    };
    /** Write, or drop a client that has stopped reading. */
    const send = (chunk: string) => {
      if (closed) return;
      if (raw.writableLength + chunk.length > bufferBytes) {
        request.log.warn({ buffered: raw.writableLength }, "slow live-stream client disconnected");
        close();
        raw.destroy();
        return;
      }
      raw.write(chunk);
    };
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    const onChange = (records: HostRecord[]) => send(frameOf(records));
    const heartbeat = setInterval(() => send(": keep-alive\n\n"), 15_000);
    index.on("changes", onChange);
    request.raw.on("close", close);
    raw.on("close", close);
    send(event("summary", index.summary()));
  });
};
