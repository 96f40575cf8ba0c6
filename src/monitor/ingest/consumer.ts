/**
 * Ordered, exactly-once processing of what agents publish.
 *
 * The pubsub service XADDs every stored item to one of INGEST_SHARDS streams
 * (by a stable hash of the owner's bare JID), so each agent's items sit in one
 * stream in publish order. Monitor instances share the 16 shards through
 * leases (leases.ts); the holder of a shard reads it through a consumer
 * group, processes each agent's entries strictly in order (different agents
 * of a batch in parallel), and applies every entry with the commitEntries
 * script, which re-checks the lease and advances the agent's processedSeq in
 * the same step as the state change: a redelivered entry is skipped, a
 * paused ex-holder is fenced off. When an instance dies, its leases expire
 * and another instance takes the shards over, first replaying the entries the
 * dead one had read but not acknowledged.
 * docs/monitor.md explains why this and not BullMQ.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "../../log/index.js";
import {
  defineScripts,
  INGEST_GROUP,
  type IngestStreamEntry,
  type Keys,
  type Redis,
} from "../../store/index.js";
import { COMMIT_ENTRIES } from "../scripts.js";
import {
  type ItemState,
  KeyTable,
  Plan,
  type PlanContext,
  planArgs,
  planItem,
  type Retention,
  readItemStates,
  reportLimitNotes,
  type StoreLimits,
} from "./apply.js";
import type { FlapThresholds } from "./flap.js";
import { parsePayload, type ResultItem } from "./items.js";
import { ShardLeases } from "./leases.js";

/** How long a read waits for new entries. */
const READ_BLOCK_MS = 500;

export interface IngestOptions {
  redis: Redis;
  keys: Keys;
  instanceId: string;
  log: Logger;
  /** A lease not renewed for this long is free for another instance. */
  leaseMs: number;
  retention: Retention;
  flap: FlapThresholds;
  /** Bounds on names and timestamps agents control (default DEFAULT_LIMITS). */
  limits?: StoreLimits;
  /** Default consecutive bad results before a check is hard (monitor.checkAttempts). */
  checkAttempts?: number;
  /** Entries read per shard per round. */
  batch?: number;
  /**
   * A round that found entries is followed by the next no sooner than this
   * (ms): under load, entries then come in batches that cost a few round
   * trips each rather than a few per entry. Adds at most this to the delay
   * between a publish and its processing.
   */
  pacingMs?: number;
  /**
   * Who counts as an agent (docs/security.md): an entry from anyone else is
   * dropped, counted and logged, and changes nothing. Default: any user account.
   */
  isAgent?: (bareJid: string) => boolean;
}

export interface IngestEvents {
  /**
   * One entry applied (`applied`), skipped as already processed (`duplicate`),
   * not understood (`invalid`) or dropped as not from an agent (`not-agent`).
   */
  entry: [entry: IngestStreamEntry, outcome: EntryOutcome];
  /** An agent's entries of a batch are done: time to rescore it. */
  agentUpdated: [jid: string];
  shardAcquired: [shard: number];
  shardLost: [shard: number];
}

export type EntryOutcome = "applied" | "duplicate" | "invalid" | "not-agent";
type Outcome = EntryOutcome | "stop";

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
};

type StreamReply = Array<[string, Array<[string, string[]]>]> | null;

/**
 * Decodes one ingest stream entry's flat field list (as XREADGROUP/XRANGE
 * return it). The owner is lower-cased (the key of the agent's host records);
 * a missing nodeSeq is 0 (the entry is then dropped as invalid) and a missing
 * publishedAt is now.
 */
export function decodeIngestEntry(id: string, fields: string[]): IngestStreamEntry {
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
  readonly #leases: ShardLeases;
  readonly #attempts = new Map<string, number>();
  #running = false;
  #loop: Promise<void> | undefined;
  readonly #isAgent: (bareJid: string) => boolean;
  #droppedNotAgent = 0;

  constructor(options: IngestOptions) {
    super();
    this.#o = options;
    this.#isAgent = options.isAgent ?? ((bare) => bare.includes("@"));
    this.#redis = defineScripts<ScriptedRedis>(options.redis, { commitEntries: COMMIT_ENTRIES });
    this.#reader = options.redis.duplicate();
    this.#reader.on("error", () => {});
    this.#leases = new ShardLeases({
      redis: options.redis,
      keys: options.keys,
      instanceId: options.instanceId,
      log: options.log,
      leaseMs: options.leaseMs,
      handoverMs: 2 * READ_BLOCK_MS,
      onAcquired: (shard) => this.emit("shardAcquired", shard),
      onLost: (shard) => this.emit("shardLost", shard),
    });
  }

  /** Entries dropped since start because their owner is not an agent. */
  get droppedNotAgent(): number {
    return this.#droppedNotAgent;
  }

  /** Shards this instance processes now. */
  heldShards(): number[] {
    return this.#leases.held();
  }

  async start(): Promise<void> {
    this.#running = true;
    await this.#leases.start();
    this.#loop = this.#run();
  }

  /** Stop reading and give the leases back so another instance takes over at once. */
  async stop({ release = true } = {}): Promise<void> {
    this.#running = false;
    await this.#leases.stopRenewing();
    await this.#loop?.catch(() => {});
    await this.#leases.giveBack(release);
    this.#reader.disconnect();
  }

  /** Trim the held shards' streams of what every instance has processed (see ShardLeases). */
  trimProcessed(): Promise<number> {
    return this.#leases.trimProcessed();
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
    const shards = await this.#leases.readable();
    if (shards.length === 0) {
      await new Promise((r) => setTimeout(r, 200));
      return 0;
    }
    const pending = shards.filter((s) => this.#leases.replaying(s));
    let reply: StreamReply;
    if (pending.length > 0) {
      reply = (await this.#redis.xreadgroup(
        "GROUP",
        INGEST_GROUP,
        instanceId,
        "COUNT",
        count,
        "STREAMS",
        ...pending.map((s) => keys.ingest(s)),
        ...pending.map(() => "0"),
      )) as StreamReply;
      for (const s of pending) {
        const got = reply?.find(([k]) => k === keys.ingest(s));
        if (!got || got[1].length === 0) this.#leases.replayed(s);
      }
    } else {
      reply = (await this.#reader.xreadgroup(
        "GROUP",
        INGEST_GROUP,
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
        const entry = { shard, entry: decodeIngestEntry(id, fields), acks: shardAcks };
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
          this.#leases.replay(shard);
          return;
        }
        shardAcks.push(entry.id);
        this.emit("entry", entry, outcome as EntryOutcome);
        if (queue.length > 1) next.push(queue.slice(1));
      });
      queues = next;
    }
    for (const queue of byOwner.values()) {
      const owner = queue[0]?.entry.owner;
      if (owner && this.#isAgent(owner)) this.emit("agentUpdated", owner);
    }
    const pipeline = this.#redis.pipeline();
    for (const [stream, ids] of acks)
      if (ids.length > 0) pipeline.xack(stream, INGEST_GROUP, ...ids);
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
      if (!this.#isAgent(entry.owner)) {
        // Published before the policy refused it (or before the JID stopped
        // being an agent): no host state, no alert, just acknowledged.
        this.#droppedNotAgent += 1;
        log.warn(
          { jid: entry.owner, nodeSeq: entry.nodeSeq, dropped: this.#droppedNotAgent },
          "ingest entry from a JID that is not an agent dropped",
        );
        outcomes[i] = "not-agent";
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
      ...(this.#o.limits ? { limits: this.#o.limits } : {}),
      flap: this.#o.flap,
      checkAttempts: this.#o.checkAttempts ?? 1,
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
    const notes = planned.flatMap((i, k) => (results[k] === 1 ? (plans[i] as Plan).notes : []));
    await reportLimitNotes(this.#redis, keys, log, notes).catch((err: Error) =>
      log.warn({ err: err.message }, "cannot count limit drops"),
    );
    planned.forEach((i, k) => {
      const result = results[k];
      if (result === 0) outcomes[i] = "duplicate";
      else if (result === -1) {
        this.#leases.lose((entries[i] as ShardEntry).shard, "fenced: the lease expired");
        outcomes[i] = "stop";
      }
    });
    return outcomes;
  }
}
