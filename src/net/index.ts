/** Socket-level helpers shared by the XMPP link and the Redis connection. */
export { coalesceWrites } from "./coalesce.js";
