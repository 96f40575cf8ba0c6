export { type HostRecord, HostStore, type PresenceUpdate } from "./hosts.js";
export { Keys } from "./keys.js";
export { createRedis, deletePrefix, type Redis } from "./redis.js";
