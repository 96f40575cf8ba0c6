/**
 * Shard leases: how monitor instances share the INGEST_SHARDS ingest streams.
 *
 * Each shard has a lease (SET NX PX through the leaseAcquire script, renewed
 * every leaseMs/3); an instance takes free shards up to its fair share
 * (shards / live instances), hands extras back when another instance joins,
 * and takes a shard seen free on two rounds in a row whatever the share (its
 * holder is gone). A newly held shard is first left alone for a hand-over
 * wait, then the entries its former holder read but did not acknowledge are
 * claimed (XAUTOCLAIM) to be replayed before anything newer. The commit
 * re-checks the lease (src/monitor/lua/commitEntries.lua), so a paused
 * ex-holder is fenced off. The reading and applying of entries is consumer.ts.
 */
import { hostname } from "node:os";
import type { Logger } from "../../log/index.js";
import {
  defineScripts,
  fieldsOf,
  INGEST_GROUP,
  INGEST_SHARDS,
  type Keys,
  type Redis,
} from "../../store/index.js";
import { LEASE_ACQUIRE, LEASE_RELEASE } from "../scripts.js";

export interface ShardLeasesOptions {
  redis: Redis;
  keys: Keys;
  instanceId: string;
  log: Logger;
  /** A lease not renewed for this long is free for another instance. */
  leaseMs: number;
  /**
   * A newly held shard is not read for this long: a blocking read the
   * previous holder sent before letting go may still deliver entries to it.
   * After that, whatever it got is pending in its name, and is claimed and
   * replayed before anything newer.
   */
  handoverMs: number;
  onAcquired: (shard: number) => void;
  onLost: (shard: number) => void;
}

type LeaseRedis = Redis & {
  leaseAcquire(key: string, id: string, ttl: string): Promise<number>;
  leaseRelease(key: string, id: string): Promise<number>;
};

export class ShardLeases {
  readonly #o: ShardLeasesOptions;
  readonly #redis: LeaseRedis;
  readonly #held = new Set<number>();
  /** Shards whose pending entries (ours) must be replayed before reading new ones. */
  readonly #needPending = new Set<number>();
  /** Shards held but not read yet (the hand-over wait), and when they may be. */
  readonly #handover = new Map<number, number>();
  readonly #seenFree = new Set<number>();
  #roundsSinceTrim = 0;
  #renewing = false;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> = Promise.resolve();

  constructor(options: ShardLeasesOptions) {
    this.#o = options;
    this.#redis = defineScripts<LeaseRedis>(options.redis, {
      leaseAcquire: LEASE_ACQUIRE,
      leaseRelease: LEASE_RELEASE,
    });
  }

  /** Shards this instance holds now. */
  held(): number[] {
    return [...this.#held].sort((a, b) => a - b);
  }

  has(shard: number): boolean {
    return this.#held.has(shard);
  }

  /** Announce this instance, take its share of the shards and keep renewing them. */
  async start(): Promise<void> {
    this.#renewing = true;
    const info = { pid: process.pid, hostname: hostname(), startedAt: Date.now() };
    await this.#redis.hset(
      this.#o.keys.monitorInstanceInfo(),
      this.#o.instanceId,
      JSON.stringify(info),
    );
    await this.#round();
    const interval = Math.max(200, Math.floor(this.#o.leaseMs / 3));
    this.#timer = setInterval(() => {
      this.#pass = this.#pass.then(() => this.#round());
    }, interval);
  }

  /** Stop renewing (the leases then expire, unless given back). */
  async stopRenewing(): Promise<void> {
    this.#renewing = false;
    clearInterval(this.#timer);
    await this.#pass;
  }

  /** Give the leases back (`release`) so another instance takes over at once, and forget them. */
  async giveBack(release: boolean): Promise<void> {
    if (release) {
      const { keys, instanceId } = this.#o;
      await Promise.all(
        [...this.#held].map((s) =>
          this.#redis.leaseRelease(keys.monitorLease(s), instanceId).catch(() => 0),
        ),
      );
      await this.#redis.zrem(keys.monitorInstances(), instanceId).catch(() => 0);
      await this.#redis.hdel(keys.monitorInstanceInfo(), instanceId).catch(() => 0);
    }
    this.#held.clear();
    this.#handover.clear();
  }

  /** The shards to read now: held and past their hand-over wait (whose pending entries are claimed first). */
  async readable(): Promise<number[]> {
    await this.#endHandovers();
    return this.held().filter((s) => !this.#handover.has(s));
  }

  /** Whether the shard's pending entries are to be replayed before new ones are read. */
  replaying(shard: number): boolean {
    return this.#needPending.has(shard);
  }

  /** Replay the shard's pending entries first from now on (if it is still held). */
  replay(shard: number): void {
    if (this.#held.has(shard)) this.#needPending.add(shard);
  }

  /** Its pending entries are replayed: read new ones. */
  replayed(shard: number): void {
    this.#needPending.delete(shard);
  }

  lose(shard: number, why: string): void {
    if (!this.#held.delete(shard)) return;
    this.#needPending.delete(shard);
    this.#handover.delete(shard);
    this.#o.log.info({ shard, why }, "ingest shard released");
    this.#o.onLost(shard);
  }

  async #round(): Promise<void> {
    if (!this.#renewing) return;
    const { keys, instanceId, leaseMs, log } = this.#o;
    const redis = this.#redis;
    try {
      const now = Date.now();
      await redis.zadd(keys.monitorInstances(), now, instanceId);
      const dead = await redis.zrangebyscore(keys.monitorInstances(), "-inf", now - leaseMs);
      if (dead.length > 0) {
        await redis.zrem(keys.monitorInstances(), ...dead);
        await redis.hdel(keys.monitorInstanceInfo(), ...dead);
      }
      const live = Math.max(1, await redis.zcard(keys.monitorInstances()));
      const target = Math.ceil(INGEST_SHARDS / live);
      for (const shard of [...this.#held]) {
        if ((await redis.leaseAcquire(keys.monitorLease(shard), instanceId, String(leaseMs))) === 0)
          this.lose(shard, "lease taken by another instance");
      }
      // Hand back extras so that a new instance gets its share.
      while (this.#held.size > target) {
        const shard = Math.max(...this.#held);
        await redis.leaseRelease(keys.monitorLease(shard), instanceId);
        this.lose(shard, "rebalanced");
      }
      await this.#takeFree(target);
      await this.#reclaimAbandoned();
      // About every 30 s with the default lease: drop what every instance is done with.
      if (++this.#roundsSinceTrim >= 15) {
        this.#roundsSinceTrim = 0;
        await this.trimProcessed();
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, "lease round failed");
    }
  }

  /**
   * Take free shards up to the fair share; a shard seen free on two rounds
   * in a row is taken whatever the share (its holder is gone).
   */
  async #takeFree(target: number): Promise<void> {
    const { keys, instanceId, leaseMs } = this.#o;
    const start = Number.parseInt(instanceId.replace(/[^0-9a-f]/gi, "").slice(0, 6) || "0", 16);
    const freeNow = new Set<number>();
    for (let i = 0; i < INGEST_SHARDS; i++) {
      const shard = (start + i) % INGEST_SHARDS;
      if (this.#held.has(shard)) continue;
      const holder = await this.#redis.get(keys.monitorLease(shard));
      if (holder) continue;
      freeNow.add(shard);
      if (this.#held.size >= target && !this.#seenFree.has(shard)) continue;
      const got = await this.#redis.leaseAcquire(
        keys.monitorLease(shard),
        instanceId,
        String(leaseMs),
      );
      if (got > 0) await this.#acquired(shard);
    }
    this.#seenFree.clear();
    for (const s of freeNow) if (!this.#held.has(s)) this.#seenFree.add(s);
  }

  /**
   * Trim the held shards' streams of processed entries. The pubsub service
   * appends to them for ever; without this Redis would grow by every result
   * ever published. An entry may go once it is acknowledged: everything older
   * than the oldest pending entry, or, with none pending, older than the last
   * one delivered to the group. Entries not yet read are newer than both.
   * Returns the number of entries removed.
   */
  async trimProcessed(): Promise<number> {
    let removed = 0;
    for (const shard of [...this.#held]) {
      const stream = this.#o.keys.ingest(shard);
      try {
        const [count, oldest] = (await this.#redis.xpending(stream, INGEST_GROUP)) as [
          number,
          string | null,
        ];
        let minId = count > 0 ? oldest : null;
        if (!minId) {
          const groups = (await this.#redis.xinfo("GROUPS", stream)) as Array<
            Array<string | number | null>
          >;
          const group = groups.map(fieldsOf).find((g) => g.name === INGEST_GROUP);
          minId = group ? String(group["last-delivered-id"]) : null;
        }
        if (minId && minId !== "0-0") removed += await this.#redis.xtrim(stream, "MINID", minId);
      } catch (err) {
        this.#o.log.warn({ shard, err: (err as Error).message }, "cannot trim ingest stream");
      }
    }
    return removed;
  }

  /**
   * The safety net of the hand-over wait: an instance paused for longer than
   * its lease (and the hand-over wait) can still send a read for a shard it
   * lost and be delivered entries; its commit is fenced, and nobody would read
   * them again. Entries of a held shard pending with another consumer are
   * claimed and replayed here (`processedSeq` makes one already applied a
   * no-op; one that a later entry of its agent overtook meanwhile is skipped
   * and counted in seqGaps). One XPENDING summary per held shard and lease round.
   */
  async #reclaimAbandoned(): Promise<void> {
    const { keys, instanceId, log } = this.#o;
    for (const shard of [...this.#held]) {
      if (this.#handover.has(shard)) continue;
      const stream = keys.ingest(shard);
      const summary = (await this.#redis.xpending(stream, INGEST_GROUP)) as [
        number,
        string | null,
        string | null,
        Array<[string, string]> | null,
      ];
      const others = (summary[3] ?? []).filter(([consumer]) => consumer !== instanceId);
      let claimed = 0;
      for (const [consumer] of others) {
        const rows = (await this.#redis.xpending(
          stream,
          INGEST_GROUP,
          "-",
          "+",
          1000,
          consumer,
        )) as Array<[string, string, number, number]>;
        if (rows.length === 0) continue;
        const ids = rows.map(([id]) => id);
        await this.#redis.xclaim(stream, INGEST_GROUP, instanceId, 0, ...ids, "JUSTID");
        claimed += ids.length;
      }
      if (claimed > 0) {
        this.#needPending.add(shard);
        log.warn({ shard, claimed }, "claimed entries left pending by a former holder");
      }
    }
  }

  async #acquired(shard: number): Promise<void> {
    const { keys, log } = this.#o;
    const stream = keys.ingest(shard);
    try {
      await this.#redis.xgroup("CREATE", stream, INGEST_GROUP, "0", "MKSTREAM");
    } catch (err) {
      if (!String((err as Error).message).includes("BUSYGROUP")) throw err;
    }
    this.#held.add(shard);
    this.#handover.set(shard, Date.now() + this.#o.handoverMs);
    log.info({ shard }, "ingest shard acquired");
    this.#o.onAcquired(shard);
  }

  /**
   * After the hand-over wait: whatever a previous holder read but did not
   * acknowledge becomes ours, to be replayed (in stream order) before
   * anything new. Everything it was delivered is older than what the group
   * delivers to us next, so per-agent order holds.
   */
  async #claimPending(shard: number): Promise<void> {
    const { keys, instanceId, log } = this.#o;
    const stream = keys.ingest(shard);
    let cursor = "0-0";
    let claimed = 0;
    do {
      const reply = (await this.#redis.xautoclaim(
        stream,
        INGEST_GROUP,
        instanceId,
        0,
        cursor,
        "COUNT",
        1000,
        "JUSTID",
      )) as [string, string[]];
      cursor = reply[0];
      claimed += reply[1].length;
    } while (cursor !== "0-0");
    this.#needPending.add(shard);
    if (claimed > 0) log.info({ shard, claimed }, "claimed the entries of a former holder");
  }

  /** Shards whose hand-over wait is over: claim what is pending, then read them. */
  async #endHandovers(): Promise<void> {
    const now = Date.now();
    for (const [shard, at] of [...this.#handover]) {
      if (at > now) continue;
      if (this.#held.has(shard)) await this.#claimPending(shard);
      this.#handover.delete(shard);
    }
  }
}
