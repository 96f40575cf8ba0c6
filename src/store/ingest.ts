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
