import { Redis } from "ioredis";
import type { Logger } from "../log/index.js";

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
  return redis;
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
