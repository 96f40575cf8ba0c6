import type { Socket } from "node:net";
import { Redis } from "ioredis";
import type { Logger } from "../log/index.js";
import { coalesceWrites } from "../net/index.js";

export type { Redis };

/**
 * A Redis connection that retries with capped backoff and logs each attempt.
 * Commands issued while disconnected queue up and run on reconnect, so a Redis
 * restart delays work instead of losing it.
 */
export function createRedis(url: string, log: Logger, name = "jabmon"): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => {
      const delay = Math.min(200 * 2 ** Math.min(attempt, 8), 10_000);
      log.warn({ attempt, delayMs: delay }, "redis reconnecting");
      return delay;
    },
  });
  redis.on("error", (err) => log.debug({ err: err.message }, "redis error"));
  // ioredis writes each command with its own syscall; the commands one burst
  // of stanzas produces (e.g. a publish script each) leave together instead.
  // A reconnect brings a new socket, so this runs on every connect.
  redis.on("connect", () => coalesceWrites((redis as unknown as { stream: Socket }).stream));
  return redis;
}

/** What `pipeline.exec()` resolves to: one [error, value] per queued command. */
export type PipelineReplies = Array<[Error | null, unknown]>;

/** The value of a pipeline's i-th command; its error, or a missing reply, throws. */
export function pipelineReply(replies: PipelineReplies, i: number): unknown {
  const [err, value] = replies[i] ?? [new Error("missing pipeline reply"), null];
  if (err) throw err;
  return value;
}

/** Delete every key under a prefix (tests and `jabmon demo` cleanup). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== "0");
  return deleted;
}
