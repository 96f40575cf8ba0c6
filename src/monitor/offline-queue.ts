/**
 * Per-agent ordered queue in Redis for what waits for an offline agent (RPC
 * requests, configuration updates). Each entry has an expiry; expired entries
 * are dropped with a logged event when the queue is drained. The queue is
 * drained, oldest first, when the agent comes online (presence) and right
 * after an enqueue while it is online.
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "../log/index.js";
import type { HostStore, Keys, Redis } from "../store/index.js";
import { OFFLINE_TAKE } from "../store/monitor-scripts.js";
import { type Element, ltx } from "../xmpp/index.js";

export interface QueuedEntry {
  id: string;
  xml: string;
  enqueuedAt: number;
  expiresAt: number;
}

/** Sends one queued element to the agent's current session; throws to keep it queued. */
export type Deliverer = (
  jid: string,
  fullJid: string,
  element: Element,
  entry: QueuedEntry,
) => Promise<void> | void;

export interface OfflineQueueEvents {
  delivered: [jid: string, entry: QueuedEntry];
  expired: [jid: string, entry: QueuedEntry];
}

type ScriptedRedis = Redis & {
  offlineTake(key: string, now: string): Promise<Array<string | null>>;
};

export class OfflineQueue extends EventEmitter<OfflineQueueEvents> {
  readonly #redis: ScriptedRedis;
  readonly #keys: Keys;
  readonly #hosts: HostStore;
  readonly #log: Logger;
  readonly #draining = new Map<string, Promise<void>>();
  #deliver: Deliverer;

  constructor(options: {
    redis: Redis;
    keys: Keys;
    hosts: HostStore;
    log: Logger;
    deliver: Deliverer;
  }) {
    super();
    this.#redis = options.redis as ScriptedRedis;
    if (typeof this.#redis.offlineTake !== "function")
      options.redis.defineCommand("offlineTake", { numberOfKeys: 1, lua: OFFLINE_TAKE });
    this.#keys = options.keys;
    this.#hosts = options.hosts;
    this.#log = options.log;
    this.#deliver = options.deliver;
  }

  /** Replace how entries reach the agent (the RPC service installs its own). */
  setDeliverer(deliver: Deliverer): void {
    this.#deliver = deliver;
  }

  /** Queue `element` for the agent; delivered in order once it is online, dropped after `ttlMs`. */
  async enqueue(jid: string, element: Element, ttlMs: number): Promise<QueuedEntry> {
    const bare = jid.toLowerCase();
    const now = Date.now();
    const entry: QueuedEntry = {
      id: randomUUID(),
      xml: element.toString(),
      enqueuedAt: now,
      expiresAt: now + ttlMs,
    };
    await this.#redis.rpush(this.#keys.offlineQueue(bare), JSON.stringify(entry));
    const host = await this.#hosts.get(bare);
    if (host?.online) await this.drain(bare);
    return entry;
  }

  async pending(jid: string): Promise<number> {
    return this.#redis.llen(this.#keys.offlineQueue(jid.toLowerCase()));
  }

  /** Deliver everything queued for the agent, in order (one drain per agent at a time). */
  drain(jid: string): Promise<void> {
    const bare = jid.toLowerCase();
    const running = this.#draining.get(bare);
    if (running) return running.then(() => this.drain(bare));
    const run = this.#drain(bare).finally(() => this.#draining.delete(bare));
    this.#draining.set(bare, run);
    return run;
  }

  async #drain(jid: string): Promise<void> {
    const key = this.#keys.offlineQueue(jid);
    for (;;) {
      const host = await this.#hosts.get(jid);
      if (!host?.online || !host.fullJid) return;
      const [raw, ...expired] = await this.#redis.offlineTake(key, String(Date.now()));
      for (const e of expired) {
        if (!e) continue;
        const entry = safeParse(e);
        this.#log.warn(
          { jid, entry: entry?.id, enqueuedAt: entry?.enqueuedAt },
          "queued entry expired, dropped",
        );
        if (entry) this.emit("expired", jid, entry);
      }
      if (!raw) return;
      const entry = safeParse(raw);
      if (!entry) continue;
      try {
        await this.#deliver(jid, host.fullJid, ltx.parse(entry.xml) as Element, entry);
        this.emit("delivered", jid, entry);
      } catch (err) {
        // Put it back in front: order is kept, and we try again on the next presence.
        await this.#redis.lpush(key, raw);
        this.#log.warn(
          { jid, entry: entry.id, err: (err as Error).message },
          "queued entry not delivered",
        );
        return;
      }
    }
  }
}

function safeParse(raw: string): QueuedEntry | undefined {
  try {
    return JSON.parse(raw) as QueuedEntry;
  } catch {
    return undefined;
  }
}
