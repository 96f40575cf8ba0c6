export { type HostRecord, HostStore, type PresenceUpdate } from "./hosts.js";
export { INGEST_SHARDS, type IngestEntry, ingestShard, stableHash } from "./ingest.js";
export { Keys } from "./keys.js";
export { createRedis, deletePrefix, type Redis } from "./redis.js";
