/**
 * The durable per-sink retry outbox. A sink that cannot deliver now (the XMPP
 * sink while the component's link is down) throws; the alert then waits in
 * Redis, per sink, and is retried with capped exponential backoff until it is
 * delivered or `retryForMs` has passed since its first attempt, when it is
 * dead-lettered: one log line, a counter, and the alert kept in the sink's
 * dead-letter list (bounded) for an operator to read.
 *
 * Layout per sink: a sorted set (alert id → next attempt, ms) and a hash
 * (alert id → JSON entry). Claiming moves an entry's next attempt forward by
 * a lease in one script, so several instances never retry one entry at once,
 * and an instance that dies mid-retry leaves it to be retried after the lease:
 * at least once, like the alert outbox itself.
 */
import type { Logger } from "../../log/index.js";
import { defineScripts, type Keys, type Redis } from "../../store/index.js";
import { CLAIM_DUE_RETRIES } from "../scripts.js";
import type { AlertSink } from "./center.js";
import type { AlertRecord } from "./record.js";

export interface RetryEntry {
  alert: AlertRecord;
  message: string;
  firstAttempt: number;
  attempts: number;
  lastError: string;
}

export interface RetryPolicy {
  /** First retry delay (ms); doubles per attempt up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Give up (dead-letter) this long after the first attempt (ms). */
  retryForMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  backoffMs: 1000,
  maxBackoffMs: 60_000,
  retryForMs: 86_400_000,
};

/** Dead-lettered entries kept per sink. */
const DEAD_LETTERS_KEPT = 1000;
/** How long a claimed entry is reserved for the instance retrying it (ms). */
const CLAIM_LEASE_MS = 30_000;

type ScriptedRedis = Redis & {
  claimDueRetries(k1: string, k2: string, ...argv: string[]): Promise<string[]>;
};

export function retryDelay(attempts: number, policy: RetryPolicy): number {
  return Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.min(attempts - 1, 30));
}

export interface RetryOutboxOptions {
  redis: Redis;
  keys: Keys;
  log: Logger;
  policy?: Partial<RetryPolicy>;
}

export class RetryOutbox {
  readonly #redis: ScriptedRedis;
  readonly #keys: Keys;
  readonly #log: Logger;
  readonly policy: RetryPolicy;
  readonly #sinks = new Map<string, AlertSink>();
  /** Alerts given up on since start, per sink (exported as a metric). */
  readonly deadLettered = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: RetryOutboxOptions) {
    this.#redis = defineScripts<ScriptedRedis>(options.redis, {
      claimDueRetries: CLAIM_DUE_RETRIES,
    });
    this.#keys = options.keys;
    this.#log = options.log;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  }

  #due(sink: string) {
    return `${this.#keys.prefix}alerts:retry:${sink}:due`;
  }
  #entries(sink: string) {
    return `${this.#keys.prefix}alerts:retry:${sink}:entries`;
  }
  deadLetterKey(sink: string): string {
    return `${this.#keys.prefix}alerts:retry:${sink}:dead`;
  }

  register(sink: AlertSink): void {
    this.#sinks.set(sink.name, sink);
  }

  /** Per sink: alerts waiting for a retry, and alerts dead-lettered (kept list). */
  async depths(): Promise<{ retry: number; deadLetter: number }> {
    let retry = 0;
    let deadLetter = 0;
    for (const name of this.#sinks.keys()) {
      retry += await this.#redis.zcard(this.#due(name));
      deadLetter += await this.#redis.llen(this.deadLetterKey(name));
    }
    return { retry, deadLetter };
  }

  /** Entries waiting for a retry, for one sink. */
  async pending(sink: string): Promise<number> {
    return this.#redis.zcard(this.#due(sink));
  }

  /** Keep an alert a sink could not deliver now; retried from `now + backoff`. */
  async defer(sink: string, alert: AlertRecord, message: string, error: string, now = Date.now()) {
    const entry: RetryEntry = { alert, message, firstAttempt: now, attempts: 1, lastError: error };
    await this.#save(sink, entry, now + retryDelay(1, this.policy));
  }

  async #save(sink: string, entry: RetryEntry, dueAt: number): Promise<void> {
    await this.#redis
      .multi()
      .hset(this.#entries(sink), entry.alert.id, JSON.stringify(entry))
      .zadd(this.#due(sink), dueAt, entry.alert.id)
      .exec();
  }

  start(intervalMs = 500): void {
    this.#timer = setInterval(() => this.kick(), intervalMs);
    this.#timer.unref();
  }

  stop(): Promise<void> {
    clearInterval(this.#timer);
    return this.#running ?? Promise.resolve();
  }

  /** Retry what is due now (e.g. when the link comes back); one round at a time. */
  kick(): void {
    if (this.#running) return;
    this.#running = this.retryDue().finally(() => {
      this.#running = undefined;
    });
  }

  async retryDue(now = Date.now()): Promise<void> {
    for (const [name, sink] of this.#sinks) {
      let claimed: string[];
      try {
        claimed = await this.#redis.claimDueRetries(
          this.#due(name),
          this.#entries(name),
          String(now),
          String(now + CLAIM_LEASE_MS),
          "100",
        );
      } catch (err) {
        this.#log.warn({ sink: name, err: (err as Error).message }, "cannot claim alert retries");
        continue;
      }
      for (const raw of claimed) await this.#retry(name, sink, JSON.parse(raw) as RetryEntry);
    }
  }

  async #retry(name: string, sink: AlertSink, entry: RetryEntry): Promise<void> {
    const id = entry.alert.id;
    try {
      await sink.deliver(entry.alert, entry.message);
      await this.#redis.multi().zrem(this.#due(name), id).hdel(this.#entries(name), id).exec();
      this.#log.info(
        { sink: name, alert: id, attempts: entry.attempts + 1 },
        "alert delivered on retry",
      );
      return;
    } catch (err) {
      entry.attempts++;
      entry.lastError = (err as Error).message;
    }
    const now = Date.now();
    if (now - entry.firstAttempt >= this.policy.retryForMs) {
      await this.#redis
        .multi()
        .zrem(this.#due(name), id)
        .hdel(this.#entries(name), id)
        .lpush(this.deadLetterKey(name), JSON.stringify(entry))
        .ltrim(this.deadLetterKey(name), 0, DEAD_LETTERS_KEPT - 1)
        .exec();
      this.deadLettered.set(name, (this.deadLettered.get(name) ?? 0) + 1);
      this.#log.error(
        { sink: name, alert: id, attempts: entry.attempts, err: entry.lastError },
        "alert dead-lettered: not delivered within the retry period",
      );
      return;
    }
    await this.#save(name, entry, now + retryDelay(entry.attempts, this.policy));
  }
}
