/**
 * Whether some front process (role all or xmpp) is connected to ejabberd,
 * for processes that have no link of their own (role http): each front with
 * its link online refreshes its entry in one sorted set, scored by when the
 * word runs out; a front that dies or loses its link drops out within TTL_MS.
 */
import type { ComponentLink } from "../component/index.js";
import type { Logger } from "../log/index.js";
import type { Keys, Redis } from "../store/index.js";

/** How long one refresh vouches for a front's link. */
const TTL_MS = 5000;
const REFRESH_MS = 1500;

/** A front's side: say "my link is online" while it is. */
export function announceFront(
  link: ComponentLink,
  redis: Redis,
  keys: Keys,
  instanceId: string,
  log: Logger,
): { stop(): Promise<void> } {
  const refresh = async () => {
    try {
      if (link.isOnline()) await redis.zadd(keys.frontsOnline(), Date.now() + TTL_MS, instanceId);
      else await redis.zrem(keys.frontsOnline(), instanceId);
    } catch (err) {
      log.debug({ err: (err as Error).message }, "cannot announce the link");
    }
  };
  link.onOnline(() => void refresh());
  link.onOffline(() => void refresh());
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await redis.zrem(keys.frontsOnline(), instanceId).catch(() => 0);
    },
  };
}

/** A link-less process's side: the last answer, refreshed in the background (metrics read it synchronously). */
export function watchFronts(redis: Redis, keys: Keys): { online(): boolean; stop(): void } {
  let online = false;
  const check = async () => {
    try {
      const now = Date.now();
      const live = await redis.zcount(keys.frontsOnline(), now, "+inf");
      online = live > 0;
      // Entries of fronts gone for good, so the set stays small.
      await redis.zremrangebyscore(keys.frontsOnline(), "-inf", now - 60_000);
    } catch {
      online = false;
    }
  };
  void check();
  const timer = setInterval(() => void check(), REFRESH_MS);
  timer.unref();
  return { online: () => online, stop: () => clearInterval(timer) };
}
