/**
 * Ordered, exactly-once processing of what agents publish.
 *
 * The pubsub service XADDs every stored item to one of INGEST_SHARDS streams
 * (by a stable hash of the owner's bare JID), so each agent's items sit in one
 * stream in publish order. Monitor instances share the 16 shards through
 * leases (SET NX PX, renewed); the holder of a shard reads it through a
 * consumer group, processes each agent's entries strictly in order (different
 * agents of a batch in parallel), and applies every entry with the
 * commitEntry script, which re-checks the lease and advances the agent's
 * processedSeq in the same step as the state change: a redelivered entry is
 * skipped, a paused ex-holder is fenced off. When an instance dies, its leases
 * expire and another instance takes the shards over, first claiming (XAUTOCLAIM)
 * and replaying the entries the dead one had read but not acknowledged.
 * docs/monitor.md explains why this and not BullMQ.
 */
import { EventEmitter } from "node:events";
import { hostname } from "node:os";
import type { Logger } from "../log/index.js";
import { INGEST_SHARDS, type IngestStreamEntry, type Keys, type Redis } from "../store/index.js";
import { COMMIT_ENTRIES, LEASE_ACQUIRE, LEASE_RELEASE } from "../store/monitor-scripts.js";
import {
  type ItemState,
  KeyTable,
  Plan,
  type PlanContext,
  planArgs,
  planItem,
  type Retention,
  readItemStates,
} from "./apply.js";
import type { FlapThresholds } from "./flap.js";
import { parsePayload, type ResultItem } from "./items.js";

export const CONSUMER_GROUP = "monitor";
/** How long a read waits for new entries. */
const READ_BLOCK_MS = 500;
/**
 * A newly held shard is not read for this long: a blocking read the previous
 * holder sent before letting go may still deliver entries to it. After that,
 * whatever it got is pending in its name, and is claimed and replayed here
 * before anything newer (see #acquired).
 */
const HANDOVER_MS = 2 * READ_BLOCK_MS;

export interface IngestOptions {
  redis: Redis;
  keys: Keys;
  instanceId: string;
  log: Logger;
  /** A lease not renewed for this long is free for another instance. */
  leaseMs: number;
  retention: Retention;
  flap: FlapThresholds;
  /** Entries read per shard per round. */
  batch?: number;
  /**
   * A round that found entries is followed by the next no sooner than this
   * (ms): under load, entries then come in batches that cost a few round
   * trips each rather than a few per entry. Adds at most this to the delay
   * between a publish and its processing.
   */
  pacingMs?: number;
}

export interface IngestEvents {
  /** One entry applied (`applied`) or skipped as already processed (`duplicate`). */
  entry: [entry: IngestStreamEntry, outcome: "applied" | "duplicate" | "invalid"];
  /** An agent's entries of a batch are done: time to rescore it. */
  agentUpdated: [jid: string];
  shardAcquired: [shard: number];
  shardLost: [shard: number];
}

type Outcome = "applied" | "duplicate" | "invalid" | "stop";

/** An entry with the shard it came from and the list its id is acknowledged in. */
interface ShardEntry {
  shard: number;
  entry: IngestStreamEntry;
  acks: string[];
}

interface ShardEntries {
  shard: number;
  stream: string;
  raw: Array<[string, string[]]>;
}

type ScriptedRedis = Redis & {
  commitEntries(numKeys: number, ...args: string[]): Promise<number[]>;
  leaseAcquire(key: string, id: string, ttl: string): Promise<number>;
  leaseRelease(key: string, id: string): Promise<number>;
};

export function withMonitorScripts(redis: Redis): ScriptedRedis {
  const scripted = redis as ScriptedRedis;
  if (typeof scripted.commitEntries !== "function") {
    redis.defineCommand("commitEntries", { lua: COMMIT_ENTRIES });
    redis.defineCommand("leaseAcquire", { numberOfKeys: 1, lua: LEASE_ACQUIRE });
    redis.defineCommand("leaseRelease", { numberOfKeys: 1, lua: LEASE_RELEASE });
  }
  return scripted;
}

/** XINFO's flat [key, value, key, value...] reply as an object. */
function flatToRecord(flat: Array<string | number>): Record<string, string | number> {
  const record: Record<string, string | number> = {};
  for (let i = 0; i + 1 < flat.length; i += 2)
    record[String(flat[i])] = flat[i + 1] as string | number;
  return record;
}

type StreamReply = Array<[string, Array<[string, string[]]>]> | null;

function toEntry(id: string, fields: string[]): IngestStreamEntry {
  const m: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) m[fields[i] as string] = fields[i + 1] as string;
  const entry: IngestStreamEntry = {
    id,
    node: m.node ?? "",
    owner: (m.owner ?? "").toLowerCase(),
    nodeSeq: Number(m.nodeSeq ?? 0),
    agentSeq: undefined,
    itemId: m.itemId ?? "",
    payload: m.payload ?? "",
    publishedAt: Number(m.publishedAt ?? 0) || Date.now(),
  };
  if (m.agentSeq) entry.agentSeq = Number(m.agentSeq);
  return entry;
}

const MAX_ATTEMPTS = 5;

export class IngestConsumer extends EventEmitter<IngestEvents> {
  readonly #o: IngestOptions;
  readonly #redis: ScriptedRedis;
  /** A separate connection for blocking reads. */
  readonly #reader: Redis;
  readonly #held = new Set<number>();
  /** Shards whose pending entries (ours) must be replayed before reading new ones. */
  readonly #needPending = new Set<number>();
  /** Shards held but not read yet (HANDOVER_MS), and when they may be. */
  readonly #handover = new Map<number, number>();
  readonly #seenFree = new Set<number>();
  #roundsSinceTrim = 0;
  readonly #attempts = new Map<string, number>();
  #running = false;
  #leaseTimer: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;
  #leasePass: Promise<void> = Promise.resolve();

  constructor(options: IngestOptions) {
    super();
    this.#o = options;
    this.#redis = withMonitorScripts(options.redis);
    this.#reader = options.redis.duplicate();
    this.#reader.on("error", () => {});
  }

  /** Shards this instance processes now. */
  heldShards(): number[] {
    return [...this.#held].sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    this.#running = true;
    const info = { pid: process.pid, hostname: hostname(), startedAt: Date.now() };
    await this.#redis.hset(
      this.#o.keys.monitorInstanceInfo(),
      this.#o.instanceId,
      JSON.stringify(info),
    );
    await this.#leaseRound();
    const interval = Math.max(200, Math.floor(this.#o.leaseMs / 3));
    this.#leaseTimer = setInterval(() => {
      this.#leasePass = this.#leasePass.then(() => this.#leaseRound());
    }, interval);
    this.#loop = this.#run();
  }

  /** Stop reading and give the leases back so another instance takes over at once. */
  async stop({ release = true } = {}): Promise<void> {
    this.#running = false;
    clearInterval(this.#leaseTimer);
    await this.#leasePass;
    await this.#loop?.catch(() => {});
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
    this.#reader.disconnect();
  }

  async #leaseRound(): Promise<void> {
    if (!this.#running) return;
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
          this.#lose(shard, "lease taken by another instance");
      }
      // Hand back extras so that a new instance gets its share.
      while (this.#held.size > target) {
        const shard = Math.max(...this.#held);
        await redis.leaseRelease(keys.monitorLease(shard), instanceId);
        this.#lose(shard, "rebalanced");
      }
      // Take free shards up to the fair share; a shard seen free on two rounds
      // in a row is taken whatever the share (its holder is gone).
      const start = Number.parseInt(instanceId.replace(/[^0-9a-f]/gi, "").slice(0, 6) || "0", 16);
      const freeNow = new Set<number>();
      for (let i = 0; i < INGEST_SHARDS; i++) {
        const shard = (start + i) % INGEST_SHARDS;
        if (this.#held.has(shard)) continue;
        const holder = await redis.get(keys.monitorLease(shard));
        if (holder) continue;
        freeNow.add(shard);
        if (this.#held.size >= target && !this.#seenFree.has(shard)) continue;
        const got = await redis.leaseAcquire(keys.monitorLease(shard), instanceId, String(leaseMs));
        if (got > 0) await this.#acquired(shard);
      }
      this.#seenFree.clear();
      for (const s of freeNow) if (!this.#held.has(s)) this.#seenFree.add(s);
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
        const [count, oldest] = (await this.#redis.xpending(stream, CONSUMER_GROUP)) as [
          number,
          string | null,
        ];
        let minId = count > 0 ? oldest : null;
        if (!minId) {
          const groups = (await this.#redis.xinfo("GROUPS", stream)) as Array<
            Array<string | number>
          >;
          const group = groups.map(flatToRecord).find((g) => g.name === CONSUMER_GROUP);
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
   * its lease (and HANDOVER_MS) can still send a read for a shard it lost and
   * be delivered entries; its commit is fenced, and nobody would read them
   * again. Entries of a held shard pending with another consumer are claimed
   * and replayed here (`processedSeq` makes one already applied a no-op; one
   * that a later entry of its agent overtook meanwhile is skipped and counted
   * in seqGaps). One XPENDING summary per held shard and lease round.
   */
  async #reclaimAbandoned(): Promise<void> {
    const { keys, instanceId, log } = this.#o;
    for (const shard of [...this.#held]) {
      if (this.#handover.has(shard)) continue;
      const stream = keys.ingest(shard);
      const summary = (await this.#redis.xpending(stream, CONSUMER_GROUP)) as [
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
          CONSUMER_GROUP,
          "-",
          "+",
          1000,
          consumer,
        )) as Array<[string, string, number, number]>;
        if (rows.length === 0) continue;
        const ids = rows.map(([id]) => id);
        await this.#redis.xclaim(stream, CONSUMER_GROUP, instanceId, 0, ...ids, "JUSTID");
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
      await this.#redis.xgroup("CREATE", stream, CONSUMER_GROUP, "0", "MKSTREAM");
    } catch (err) {
      if (!String((err as Error).message).includes("BUSYGROUP")) throw err;
    }
    this.#held.add(shard);
    this.#handover.set(shard, Date.now() + HANDOVER_MS);
    log.info({ shard }, "ingest shard acquired");
    this.emit("shardAcquired", shard);
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
        CONSUMER_GROUP,
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

  #lose(shard: number, why: string): void {
    if (!this.#held.delete(shard)) return;
    this.#needPending.delete(shard);
    this.#handover.delete(shard);
    this.#o.log.info({ shard, why }, "ingest shard released");
    this.emit("shardLost", shard);
  }

  async #run(): Promise<void> {
    const { log } = this.#o;
    const pacingMs = this.#o.pacingMs ?? 50;
    while (this.#running) {
      try {
        const started = Date.now();
        if ((await this.#round()) > 0) {
          const rest = started + pacingMs - Date.now();
          if (rest > 0) await new Promise((r) => setTimeout(r, rest));
        }
      } catch (err) {
        log.warn({ err: (err as Error).message }, "ingest round failed");
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Returns the number of entries read. */
  async #round(): Promise<number> {
    const { keys, instanceId } = this.#o;
    const count = this.#o.batch ?? 200;
    await this.#endHandovers();
    const shards = this.heldShards().filter((s) => !this.#handover.has(s));
    if (shards.length === 0) {
      await new Promise((r) => setTimeout(r, 200));
      return 0;
    }
    const pending = shards.filter((s) => this.#needPending.has(s));
    let reply: StreamReply;
    if (pending.length > 0) {
      reply = (await this.#redis.xreadgroup(
        "GROUP",
        CONSUMER_GROUP,
        instanceId,
        "COUNT",
        count,
        "STREAMS",
        ...pending.map((s) => keys.ingest(s)),
        ...pending.map(() => "0"),
      )) as StreamReply;
      for (const s of pending) {
        const got = reply?.find(([k]) => k === keys.ingest(s));
        if (!got || got[1].length === 0) this.#needPending.delete(s);
      }
    } else {
      reply = (await this.#reader.xreadgroup(
        "GROUP",
        CONSUMER_GROUP,
        instanceId,
        "COUNT",
        count,
        "BLOCK",
        READ_BLOCK_MS,
        "STREAMS",
        ...shards.map((s) => keys.ingest(s)),
        ...shards.map(() => ">"),
      )) as StreamReply;
    }
    if (!reply) return 0;
    const batch: ShardEntries[] = [];
    let read = 0;
    for (const [stream, entries] of reply) {
      const shard = shards.find((s) => keys.ingest(s) === stream);
      if (shard !== undefined && entries.length > 0) batch.push({ shard, stream, raw: entries });
      read += entries.length;
    }
    if (batch.length > 0) await this.#processBatch(batch);
    return read;
  }

  /** A round's entries, all shards together: a few round trips for the lot. */
  async #processBatch(batch: ShardEntries[]): Promise<void> {
    // Pending replays can contain entries already acknowledged as deleted (nil fields).
    const byOwner = new Map<string, ShardEntry[]>();
    const acks = new Map<string, string[]>();
    for (const { shard, stream, raw } of batch) {
      const shardAcks: string[] = [];
      acks.set(stream, shardAcks);
      for (const [id, fields] of raw) {
        if (!fields) {
          shardAcks.push(id);
          continue;
        }
        const entry = { shard, entry: toEntry(id, fields), acks: shardAcks };
        // An owner maps to one shard; "" (invalid entries) may sit in several.
        const owner = `${shard}|${entry.entry.owner}`;
        const list = byOwner.get(owner);
        if (list) list.push(entry);
        else byOwner.set(owner, [entry]);
      }
    }
    // Waves: the next entry of every agent, read and committed together. An
    // agent's later entry waits for the wave that commits the earlier one, as
    // its planning reads what the earlier one wrote.
    let queues = [...byOwner.values()];
    while (queues.length > 0) {
      const wave = queues.map((q) => q[0] as ShardEntry);
      const outcomes = await this.#processWave(wave);
      const next: ShardEntry[][] = [];
      wave.forEach(({ shard, entry, acks: shardAcks }, i) => {
        const outcome = outcomes[i];
        const queue = queues[i] as ShardEntry[];
        if (outcome === "stop") {
          // Later entries of this agent stay pending and are replayed in order.
          if (this.#held.has(shard)) this.#needPending.add(shard);
          return;
        }
        shardAcks.push(entry.id);
        this.emit("entry", entry, outcome as "applied" | "duplicate" | "invalid");
        if (queue.length > 1) next.push(queue.slice(1));
      });
      queues = next;
    }
    for (const queue of byOwner.values()) {
      const owner = queue[0]?.entry.owner;
      if (owner) this.emit("agentUpdated", owner);
    }
    const pipeline = this.#redis.pipeline();
    for (const [stream, ids] of acks)
      if (ids.length > 0) pipeline.xack(stream, CONSUMER_GROUP, ...ids);
    if (pipeline.length > 0) await pipeline.exec();
  }

  /** One entry per agent: commit them together; if that fails, one by one. */
  async #processWave(wave: ShardEntry[]): Promise<Outcome[]> {
    if (wave.length > 1) {
      try {
        return await this.#commit(wave);
      } catch (err) {
        this.#o.log.warn(
          { err: (err as Error).message, entries: wave.length },
          "cannot apply ingest batch, applying its entries one by one",
        );
      }
    }
    const outcomes: Outcome[] = [];
    for (const entry of wave) outcomes.push(await this.#processEntry(entry));
    return outcomes;
  }

  async #processEntry(one: ShardEntry): Promise<Outcome> {
    const { keys, instanceId, log } = this.#o;
    const { shard, entry } = one;
    try {
      const [outcome] = await this.#commit([one]);
      this.#attempts.delete(entry.id);
      return outcome as Outcome;
    } catch (err) {
      const attempts = (this.#attempts.get(entry.id) ?? 0) + 1;
      this.#attempts.set(entry.id, attempts);
      log.warn(
        { err: (err as Error).message, jid: entry.owner, nodeSeq: entry.nodeSeq, attempts },
        "cannot apply ingest entry, will retry",
      );
      if (attempts >= MAX_ATTEMPTS) {
        // A poison entry must not block its agent forever: advance past it.
        log.error({ jid: entry.owner, nodeSeq: entry.nodeSeq }, "giving up on ingest entry");
        const table = new KeyTable();
        const skip = new Plan(
          table,
          keys.monitorLease(shard),
          keys.host(entry.owner),
          entry.nodeSeq,
        );
        const result = await this.#redis
          .commitEntries(table.keys.length, ...table.keys, instanceId, planArgs([skip]))
          .catch(() => undefined);
        if (result && result[0] !== -1) {
          this.#attempts.delete(entry.id);
          return "invalid";
        }
      }
      await new Promise((r) => setTimeout(r, 100 * attempts));
      return "stop";
    }
  }

  /**
   * Plans and commits entries of different agents: one pipeline of reads, one
   * commitEntries call. Throws on a Redis error (nothing or part applied: a
   * retry skips what was, by processedSeq).
   */
  async #commit(entries: ShardEntry[]): Promise<Outcome[]> {
    const { keys, instanceId, log } = this.#o;
    const outcomes: Outcome[] = entries.map(() => "applied");
    const table = new KeyTable();
    const plans: Plan[] = [];
    const planned: number[] = [];
    const toRead: Array<{ jid: string; item: ResultItem; index: number }> = [];
    entries.forEach(({ shard, entry }, i) => {
      if (!entry.owner || !Number.isFinite(entry.nodeSeq) || entry.nodeSeq <= 0) {
        log.error(
          { id: entry.id, owner: entry.owner },
          "ingest entry without owner or nodeSeq, dropped",
        );
        outcomes[i] = "invalid";
        return;
      }
      const parsed = parsePayload(entry.payload, entry.publishedAt);
      if ("error" in parsed) {
        log.warn(
          { jid: entry.owner, nodeSeq: entry.nodeSeq, error: parsed.error },
          "item not understood, skipped",
        );
        // Still committed (with no changes) so that the sequence moves on.
        outcomes[i] = "invalid";
      } else toRead.push({ jid: entry.owner, item: parsed.item, index: i });
      plans[i] = new Plan(table, keys.monitorLease(shard), keys.host(entry.owner), entry.nodeSeq);
      planned.push(i);
    });
    const states = await readItemStates(this.#redis, keys, toRead);
    const ctx: PlanContext = {
      keys,
      retention: this.#o.retention,
      flap: this.#o.flap,
      now: Date.now(),
    };
    toRead.forEach(({ item, index }, k) => {
      planItem(
        plans[index] as Plan,
        (entries[index] as ShardEntry).entry,
        item,
        states[k] as ItemState,
        ctx,
      );
    });
    if (planned.length === 0) return outcomes;
    const results = await this.#redis.commitEntries(
      table.keys.length,
      ...table.keys,
      instanceId,
      planArgs(planned.map((i) => plans[i] as Plan)),
    );
    planned.forEach((i, k) => {
      const result = results[k];
      if (result === 0) outcomes[i] = "duplicate";
      else if (result === -1) {
        this.#lose((entries[i] as ShardEntry).shard, "fenced: the lease expired");
        outcomes[i] = "stop";
      }
    });
    return outcomes;
  }
}
