/**
 * The ingest streams: the pubsub service XADDs every item stored on an
 * `agents/<bare JID>` node to `keys.ingest(ingestShard(bareJid))` in the same
 * Lua script that stores it, so the monitor reads each stored item exactly once.
 * Sharding by owner keeps one agent's items in one stream, in order.
 *
 * Stream fields: node, owner (bare JID), nodeSeq, agentSeq ('' when the
 * payload has no urn:jabmon:0 seq), itemId, payload (XML string), publishedAt (ms),
 * written by src/pubsub/lua/publishItem-9.lua and decoded by decodeIngestEntry
 * (src/monitor/ingest/consumer.ts).
 */
import type { Keys } from "./keys.js";
import type { Redis } from "./redis.js";

export const INGEST_SHARDS = 16;

/** A stream entry as the monitor reads it. */
export interface IngestStreamEntry {
  /** The stream entry id. */
  id: string;
  node: string;
  owner: string;
  nodeSeq: number;
  agentSeq: number | undefined;
  itemId: string;
  payload: string;
  publishedAt: number;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, as zlib) of the UTF-8 bytes of a string. */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, "utf8")) {
    crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The ingest shard of an agent: crc32(bare JID) % INGEST_SHARDS. */
export function ingestShard(bareJid: string): number {
  return crc32(bareJid) % INGEST_SHARDS;
}

/** The consumer group the monitor instances read the ingest streams with. */
export const INGEST_GROUP = "monitor";

/**
 * Entries stored but not yet processed, over every shard: the group's `lag`
 * (not yet delivered to a monitor instance) plus its pending entries
 * (delivered, not acknowledged). A shard no monitor has read yet counts its
 * whole length. A shard whose lag Redis cannot determine (null, after some
 * trims) counts its pending entries only: the estimate errs low, so it never
 * refuses work on a guess. One round trip.
 */
export async function ingestBacklog(redis: Redis, keys: Keys): Promise<number> {
  const pipeline = redis.pipeline();
  for (let shard = 0; shard < INGEST_SHARDS; shard++) {
    pipeline.xinfo("GROUPS", keys.ingest(shard));
    pipeline.xlen(keys.ingest(shard));
  }
  const replies = (await pipeline.exec()) ?? [];
  let backlog = 0;
  for (let shard = 0; shard < INGEST_SHARDS; shard++) {
    const [groupsErr, groups] = replies[2 * shard] ?? [];
    const length = Number(replies[2 * shard + 1]?.[1] ?? 0);
    // No such stream: nothing was ever published to this shard.
    if (groupsErr) continue;
    const group = (groups as Array<Array<string | number | null>>)
      .map(fieldsOf)
      .find((g) => g.name === INGEST_GROUP);
    if (!group) backlog += length;
    else backlog += Number(group.pending ?? 0) + Number(group.lag ?? 0);
  }
  return backlog;
}

/** XINFO's flat [name, value, name, value...] reply as a record. */
export function fieldsOf(
  flat: Array<string | number | null>,
): Record<string, string | number | null> {
  const record: Record<string, string | number | null> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1] ?? null;
  return record;
}
