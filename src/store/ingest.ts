/**
 * The ingest streams between the pubsub service and the monitor. Every item an
 * agent publishes is XADDed (in the same script that stores it) to one of
 * INGEST_SHARDS streams, chosen by a stable hash of the owner's bare JID, so one
 * agent's items are always in one stream, in publish order.
 *
 * NOTE for merge: the pubsub branch defines the same names (INGEST_SHARDS,
 * ingestShard, Keys.ingest); keep one copy, theirs if they differ.
 */
export const INGEST_SHARDS = 16;

/** FNV-1a (32-bit) of the UTF-8 bytes: stable across processes and versions. */
export function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function ingestShard(bareJid: string): number {
  return stableHash(bareJid.toLowerCase()) % INGEST_SHARDS;
}

/** One ingest stream entry, as the pubsub service writes it. */
export interface IngestEntry {
  /** Stream entry id. */
  id: string;
  node: string;
  owner: string;
  nodeSeq: number;
  agentSeq?: number;
  itemId: string;
  /** The urn:jabmon:0 payload element as XML text. */
  payload: string;
  publishedAt: number;
}
