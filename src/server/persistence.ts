/**
 * What a Redis acknowledgement is worth: read the persistence settings of the
 * Redis the component was given and warn at start-up when an acknowledged
 * result would not survive a Redis restart (docs/deploy.md, "What an
 * acknowledgement guarantees"). jabmon never changes the settings itself:
 * they belong to whoever runs that Redis.
 *
 * CONFIG is often disabled or renamed (managed Redis, hardened installs), so
 * INFO persistence is the fallback; it shows whether AOF is on but not the
 * fsync policy nor the RDB save rules.
 */
import type { Logger } from "../log/index.js";
import type { Redis } from "../store/index.js";

export interface RedisPersistence {
  aof: boolean;
  /** appendfsync: always, everysec or no; undefined when CONFIG is unavailable. */
  appendfsync?: string;
  /** RDB snapshots configured (save rules); undefined when CONFIG is unavailable. */
  rdb?: boolean;
  /** Where the answer came from. */
  source: "config" | "info";
}

export async function readRedisPersistence(redis: Redis): Promise<RedisPersistence> {
  try {
    const [, appendonly] = (await redis.call("CONFIG", "GET", "appendonly")) as string[];
    const [, appendfsync] = (await redis.call("CONFIG", "GET", "appendfsync")) as string[];
    const [, save] = (await redis.call("CONFIG", "GET", "save")) as string[];
    if (appendonly !== undefined)
      return {
        aof: appendonly === "yes",
        appendfsync,
        rdb: (save ?? "").trim() !== "",
        source: "config",
      };
  } catch {
    // CONFIG disabled or renamed: INFO below.
  }
  const info = (await redis.info("persistence")) as string;
  return { aof: /^aof_enabled:1\s*$/m.test(info), source: "info" };
}

/** Log once what an acknowledgement guarantees with this Redis; warn when it is not durable. */
export async function reportRedisPersistence(redis: Redis, log: Logger): Promise<void> {
  let p: RedisPersistence;
  try {
    p = await readRedisPersistence(redis);
  } catch (err) {
    log.warn({ err: (err as Error).message }, "cannot read Redis persistence settings");
    return;
  }
  const docs = "see docs/deploy.md";
  if (p.aof && p.appendfsync === "always")
    log.info({ redis: p }, "Redis AOF with appendfsync always: an acknowledged result is on disk");
  else if (p.aof && (p.appendfsync === "everysec" || p.appendfsync === undefined))
    log.info(
      { redis: p },
      "Redis AOF: an acknowledged result survives a Redis crash; a power loss may lose about the last second",
    );
  else if (p.aof)
    log.warn(
      { redis: p },
      `Redis AOF with appendfsync ${p.appendfsync}: the OS decides when results reach the disk; a power loss may lose about 30 s of acknowledged results (${docs})`,
    );
  else if (p.rdb)
    log.warn(
      { redis: p },
      `Redis has no AOF, only RDB snapshots: a Redis crash loses every acknowledged result since the last snapshot; set appendonly yes (${docs})`,
    );
  else
    log.warn(
      { redis: p },
      `Redis has no persistence (no AOF${p.rdb === undefined ? "" : ", no RDB snapshots"}): a Redis restart loses every acknowledged result; set appendonly yes (${docs})`,
    );
}
