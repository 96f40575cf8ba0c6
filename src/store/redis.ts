import type { Socket } from "node:net";
import { Command, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log/index.js";
import { coalesceWrites } from "../net/index.js";

export type { Redis };

/** Commands kept while Redis is unreachable, by default; past this they fail at once. */
export const DEFAULT_OFFLINE_QUEUE_MAX = 1000;

/** A command refused because Redis is unreachable and the offline queue is full. */
export class RedisUnavailableError extends Error {
  override name = "RedisUnavailableError";
  readonly code = "JABMON_REDIS_UNAVAILABLE";
}

/** What the component reads to see that the store is gone and how much waits for it. */
export interface RedisHealth {
  /** Connected and ready for commands. */
  readonly ready: boolean;
  /** Commands waiting for the connection now. */
  readonly queued: number;
  /** Commands refused because the queue was full, since start. */
  readonly refused: number;
}

interface OfflineQueue {
  length: number;
}

type PipelineStream = { isPipeline?: boolean };

/**
 * ioredis with a bounded offline queue. ioredis keeps every command issued
 * while disconnected, without limit, so an outage under load grows memory
 * until the process dies. Here at most `offlineQueueMax` wait; the rest fail
 * at once with RedisUnavailableError (the pubsub service then answers
 * publishes with a wait-type error and agents keep their results spooled).
 * A pipeline or MULTI is kept or refused whole: refusing part of one would
 * leave its other commands waiting for a write that never comes.
 */
class BoundedRedis extends Redis implements RedisHealth {
  readonly #max: number;
  #refused = 0;
  /** Pipelines whose first command was refused: the rest of each goes too. */
  readonly #refusedPipelines = new WeakSet<object>();
  readonly #keptPipelines = new WeakSet<object>();

  constructor(max: number, ...args: [string, RedisOptions] | [RedisOptions]) {
    super(...(args as [string, RedisOptions]));
    this.#max = max;
  }

  get ready(): boolean {
    return this.status === "ready";
  }

  get queued(): number {
    return (this as unknown as { offlineQueue: OfflineQueue }).offlineQueue.length;
  }

  get refused(): number {
    return this.#refused;
  }

  override sendCommand(command: Command, stream?: unknown): unknown {
    if (this.#refuse(command, stream as PipelineStream | undefined)) {
      this.#refused += 1;
      command.reject(
        new RedisUnavailableError(
          `redis unavailable: ${this.queued} commands already wait for it (offline queue full)`,
        ),
      );
      return command.promise;
    }
    return super.sendCommand(command, stream as never);
  }

  #refuse(command: Command, stream: PipelineStream | undefined): boolean {
    if (this.status === "ready" || this.status === "end" || this.status === "wait") return false;
    // The connection handshake (AUTH, SELECT, CLIENT SETNAME, INFO) is written, not queued.
    if (this.status === "connect" && Command.checkFlag("HANDSHAKE_COMMANDS", command.name))
      return false;
    if (stream?.isPipeline) {
      if (this.#refusedPipelines.has(stream)) return true;
      if (this.#keptPipelines.has(stream)) return false;
    }
    const refuse = this.queued >= this.#max;
    if (stream?.isPipeline) (refuse ? this.#refusedPipelines : this.#keptPipelines).add(stream);
    return refuse;
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    return new BoundedRedis(this.#max, { ...this.options, ...override });
  }
}

export interface CreateRedisOptions {
  name?: string;
  /** Commands kept while Redis is unreachable (default 1000). */
  offlineQueueMax?: number;
}

/**
 * A Redis connection that retries with capped backoff and logs each attempt.
 * Commands issued while disconnected queue up, at most `offlineQueueMax` of
 * them, and run on reconnect, so a short Redis restart delays work instead of
 * losing it; past the bound they fail fast (RedisUnavailableError).
 */
export function createRedis(
  url: string,
  log: Logger,
  nameOrOptions: string | CreateRedisOptions = "jabmon",
): Redis & RedisHealth {
  const { name = "jabmon", offlineQueueMax = DEFAULT_OFFLINE_QUEUE_MAX } =
    typeof nameOrOptions === "string" ? { name: nameOrOptions } : nameOrOptions;
  const redis = new BoundedRedis(offlineQueueMax, url, {
    connectionName: name,
    // Kept null: BullMQ's blocking connections require it, and the bound above
    // (not a retry count) is what keeps an outage from growing memory.
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
