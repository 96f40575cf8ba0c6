export { type HostRecord, HostStore, type PresenceUpdate } from "./hosts.js";
export {
  crc32,
  INGEST_SHARDS,
  type IngestEntry,
  type IngestStreamEntry,
  ingestShard,
  parseIngestFields,
} from "./ingest.js";
export { Keys } from "./keys.js";
export {
  createRedis,
  deletePrefix,
  type PipelineReplies,
  pipelineReply,
  type Redis,
} from "./redis.js";
