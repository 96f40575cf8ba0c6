/**
 * The ingest streams: the pubsub service XADDs every item stored on an
 * `agents/<bare JID>` node to `keys.ingest(ingestShard(bareJid))` in the same
 * Lua script that stores it, so the monitor reads each stored item exactly once.
 * Sharding by owner keeps one agent's items in one stream, in order.
 *
 * Stream fields: node, owner (bare JID), nodeSeq, agentSeq ('' when the
 * payload has no urn:jabmon:0 seq), itemId, payload (XML string), publishedAt (ms).
 */

export const INGEST_SHARDS = 16;

export interface IngestEntry {
  node: string;
  owner: string;
  nodeSeq: number;
  agentSeq: number | undefined;
  itemId: string;
  payload: string;
  publishedAt: number;
}

/** An entry as read back from its stream, with the stream entry id. */
export interface IngestStreamEntry extends IngestEntry {
  id: string;
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

/** Decode one stream entry's flat field list (as XREAD/XRANGE return it). */
export function parseIngestFields(fields: string[]): IngestEntry {
  const map: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i] as string] = fields[i + 1] as string;
  return {
    node: map.node ?? "",
    owner: map.owner ?? "",
    nodeSeq: Number(map.nodeSeq),
    agentSeq: map.agentSeq ? Number(map.agentSeq) : undefined,
    itemId: map.itemId ?? "",
    payload: map.payload ?? "",
    publishedAt: Number(map.publishedAt),
  };
}
