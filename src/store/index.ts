export { type HostRecord, HostStore, type PresenceUpdate } from "./hosts.js";
export {
  crc32,
  fieldsOf,
  INGEST_GROUP,
  INGEST_SHARDS,
  type IngestStreamEntry,
  ingestBacklog,
  ingestShard,
} from "./ingest.js";
export { Keys } from "./keys.js";
export { defineScripts, type LuaScript, luaScript } from "./lua.js";
export {
  type CreateRedisOptions,
  createRedis,
  DEFAULT_OFFLINE_QUEUE_MAX,
  deletePrefix,
  type PipelineReplies,
  pipelineReply,
  type Redis,
  type RedisHealth,
  RedisUnavailableError,
} from "./redis.js";
