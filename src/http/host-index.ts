/**
 * An in-memory snapshot of every host, kept current from Redis: loaded whole
 * at start (and every `reloadMs` as a safety net), then updated per host from
 * the `changes` pub/sub channel that every host-changing Lua script publishes
 * to. Requests filter, sort and page the snapshot instead of reading 10,000
 * hashes from Redis each time, and the live page is fed from the same events.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "../log/index.js";
import { STATE_ORDER } from "../protocol/index.js";
import type { HostRecord, HostStore, Keys, Redis } from "../store/index.js";

export { STATE_ORDER };
/** Hosts read per round trip when the index is reloaded whole. */
const RELOAD_CHUNK = 500;
export type ViewState = (typeof STATE_ORDER)[number];
const RANK = Object.fromEntries(STATE_ORDER.map((s, i) => [s, i])) as Record<string, number>;

export interface HostQuery {
  /** Only these states. */
  states?: string[];
  /** Case-insensitive substring of host name, JID or status text. */
  q?: string;
  sort?: "state" | "host" | "lastSeen";
  order?: "asc" | "desc";
  offset?: number;
  limit?: number;
}

export interface HostIndexEvents {
  /** Hosts that changed since the last flush (at most one event per `flushMs`). */
  changes: [records: HostRecord[]];
}

export class HostIndex extends EventEmitter<HostIndexEvents> {
  readonly #hosts = new Map<string, HostRecord>();
  readonly #store: HostStore;
  readonly #subscriber: Redis;
  readonly #channel: string;
  readonly #log: Logger;
  readonly #reloadMs: number;
  readonly #flushMs: number;
  /** JIDs announced on the channel and not yet re-read: a burst costs one read per host. */
  readonly #dirty = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  /** While a reload runs: hosts refreshed meanwhile, whose newer record it keeps. */
  #refreshedDuringReload: Set<string> | undefined;

  constructor(options: {
    store: HostStore;
    redis: Redis;
    keys: Keys;
    log: Logger;
    reloadMs?: number;
    flushMs?: number;
  }) {
    super();
    this.setMaxListeners(0);
    this.#store = options.store;
    this.#subscriber = options.redis.duplicate();
    // duplicate() copies no listeners: without one, ioredis prints every failed
    // reconnect of an outage to stderr ("Unhandled error event").
    this.#subscriber.on("error", (err: Error) =>
      options.log.debug({ err: err.message }, "redis error (host index)"),
    );
    this.#channel = options.keys.changes();
    this.#log = options.log;
    this.#reloadMs = options.reloadMs ?? 30_000;
    this.#flushMs = options.flushMs ?? 200;
  }

  async start(): Promise<void> {
    this.#subscriber.on("message", (_channel, jid) => this.#markDirty(jid));
    await this.#subscriber.subscribe(this.#channel);
    await this.reload();
    this.#timer = setInterval(
      () => void this.reload().catch((err) => this.#log.warn({ err }, "host reload failed")),
      this.#reloadMs,
    );
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#flushTimer);
    this.#subscriber.disconnect();
  }

  /**
   * Every host read anew, in chunks: one read of 10,000 hashes held the
   * event loop (and Redis) for a few hundred ms every reloadMs, which showed
   * in bench:fleet's p99. Hosts refreshed from the channel while the reload
   * runs keep that newer record.
   */
  async reload(): Promise<void> {
    const jids = await this.#store.jids();
    const fresh = new Map<string, HostRecord>();
    const refreshed = new Set<string>();
    this.#refreshedDuringReload = refreshed;
    try {
      for (let i = 0; i < jids.length; i += RELOAD_CHUNK)
        for (const record of await this.#store.getMany(jids.slice(i, i + RELOAD_CHUNK)))
          fresh.set(record.jid, record);
    } finally {
      this.#refreshedDuringReload = undefined;
    }
    for (const jid of refreshed) {
      const current = this.#hosts.get(jid);
      if (current) fresh.set(jid, current);
    }
    this.#hosts.clear();
    for (const [jid, record] of fresh) this.#hosts.set(jid, record);
  }

  #markDirty(jid: string): void {
    this.#dirty.add(jid);
    this.#flushTimer ??= setTimeout(() => void this.#flush(), this.#flushMs);
  }

  async #flush(): Promise<void> {
    this.#flushTimer = undefined;
    const jids = [...this.#dirty];
    this.#dirty.clear();
    try {
      const records = await this.#store.getMany(jids);
      for (const record of records) {
        this.#hosts.set(record.jid, record);
        this.#refreshedDuringReload?.add(record.jid);
      }
      if (records.length > 0) this.emit("changes", records);
    } catch (err) {
      this.#log.warn({ err, hosts: jids.length }, "cannot refresh changed hosts");
      for (const jid of jids) this.#markDirty(jid);
    }
  }

  get(jid: string): HostRecord | undefined {
    return this.#hosts.get(jid);
  }

  get size(): number {
    return this.#hosts.size;
  }

  all(): IterableIterator<HostRecord> {
    return this.#hosts.values();
  }

  query(query: HostQuery = {}): { total: number; hosts: HostRecord[] } {
    const states = query.states && query.states.length > 0 ? new Set(query.states) : undefined;
    const needle = query.q?.trim().toLowerCase();
    let rows = [...this.#hosts.values()];
    if (states) rows = rows.filter((h) => states.has(h.state));
    if (needle) {
      rows = rows.filter(
        (h) =>
          h.host.toLowerCase().includes(needle) ||
          h.jid.includes(needle) ||
          h.status.toLowerCase().includes(needle) ||
          h.summary.toLowerCase().includes(needle),
      );
    }
    const direction = query.order === "desc" ? -1 : 1;
    const byHost = (a: HostRecord, b: HostRecord) =>
      a.host.localeCompare(b.host) || a.jid.localeCompare(b.jid);
    const compare: Record<string, (a: HostRecord, b: HostRecord) => number> = {
      state: (a, b) => (RANK[a.state] ?? 9) - (RANK[b.state] ?? 9) || byHost(a, b),
      host: byHost,
      lastSeen: (a, b) => a.lastSeen - b.lastSeen || byHost(a, b),
    };
    const sorter = compare[query.sort ?? "state"] ?? compare.state;
    rows.sort((a, b) => direction * (sorter as (a: HostRecord, b: HostRecord) => number)(a, b));
    const offset = query.offset ?? 0;
    const limit = query.limit ?? rows.length;
    return { total: rows.length, hosts: rows.slice(offset, offset + limit) };
  }

  /** Number of hosts in each state (every state present, zero if none). */
  summary(): Record<ViewState, number> & { total: number } {
    const counts = Object.fromEntries(STATE_ORDER.map((s) => [s, 0])) as Record<ViewState, number>;
    for (const host of this.#hosts.values())
      counts[host.state as ViewState] = (counts[host.state as ViewState] ?? 0) + 1;
    return { ...counts, total: this.#hosts.size };
  }
}
