/**
 * The monitoring plane watching itself (issue 17; docs/monitor.md, "Plane
 * events and the reconnect grace"). When ejabberd restarts, the component's
 * link drops, Redis goes away or a large part of the fleet vanishes at once,
 * the fault is the plane's, not the hosts': it is reported once, as a `plane`
 * alert ("monitoring degraded", then "recovered"), and host-down alerts are
 * held for a reconnect grace so that hosts which come back produce none.
 *
 * Shared through Redis, so several component processes report one incident:
 * - the causes of the open incident are a hash (`link|<instance>`, `mass`,
 *   `restart|<instance>`, `redis|<instance>`); the first cause raises the
 *   degraded alert and the last one to end raises the recovered alert, in the
 *   same script as the change (PLANE_OPEN / PLANE_CLOSE);
 * - a process that dies with a cause open does not keep the incident open:
 *   its alive key expires and the next close drops its causes;
 * - every host-down alert waits in a sorted set (by down time) for at least
 *   the mass window, and for the grace after an incident; it is released by
 *   whichever process removes it from the set first, and only if the host is
 *   still down. A host back meanwhile leaves the set: no alert at all, and no
 *   recovery either (nothing was announced). Recoveries are never held.
 *
 * A Redis outage cannot be written to Redis while it lasts: each process notes
 * it locally, and when Redis answers again the first process back (SET NX)
 * reports it, degraded and recovered together, with its duration.
 */
import { randomUUID } from "node:crypto";
import type { ComponentLink } from "../../component/index.js";
import type { Logger } from "../../log/index.js";
import { defineScripts, type HostStore, type Keys, type Redis } from "../../store/index.js";
import type { DownsExplained } from "../alerting/dependencies.js";
import { alertFields } from "../alerts/record.js";
import { PLANE_CLOSE, PLANE_OPEN } from "../scripts.js";

export interface PlaneSettings {
  /**
   * Host-down alerts are held this long after a plane incident ends (ms).
   * Default 60 s: twice the agents' largest reconnect delay (reconnectMaxDelayMs,
   * 30 s, full jitter), so every live agent has had its reconnect attempt.
   */
  graceMs: number;
  /** A mass unavailability: more than this percentage of known hosts down ... */
  massPercent: number;
  /** ... within this window (ms). Every host-down alert waits at least this long. */
  massWindowMs: number;
  /**
   * Fewer known hosts than this never make a mass unavailability, and their
   * down alerts are not held for the mass window (only for an incident's grace).
   */
  massMinHosts: number;
  /** Redis pinged this often (ms); two failures in a row are an outage. */
  redisPingMs: number;
  /**
   * A down host whose parent is still online is not counted in a wave, for
   * or against a mass unavailability, until its down is this old (ms): its
   * parent's session may end after its own. At most half the mass window, so
   * the wave is decided before its first downs are released.
   */
  parentWaitMs: number;
}

export const DEFAULT_PLANE_SETTINGS: PlaneSettings = {
  graceMs: 60_000,
  massPercent: 20,
  massWindowMs: 10_000,
  massMinHosts: 10,
  redisPingMs: 1000,
  parentWaitMs: 5000,
};

/** A component process whose heartbeat is older than this is dead. */
const ALIVE_MS = 5000;
/** Heartbeats of processes gone for longer than this are forgotten. */
const FORGET_MS = 86_400_000;
const TICK_MS = 1000;

export interface PlaneWatchOptions {
  redis: Redis;
  keys: Keys;
  hosts: HostStore;
  link: ComponentLink;
  log: Logger;
  instanceId: string;
  outboxMax: number;
  settings?: Partial<PlaneSettings>;
  /** Raise the held down alert of `jid` (Liveness). */
  releaseDown: (jid: string, reason: string) => Promise<void>;
  /**
   * What explains the downs of `jids` (alerting's DependencyMap.explainDowns):
   * `explained`, the hosts with a parent down, are not counted as a mass
   * unavailability, since a dead switch and the hosts behind it are a network
   * fault, not the plane's; `parentUp`, the hosts with a parent still online,
   * are not counted either way until their down is `parentWaitMs` old.
   */
  explainedDowns?: (jids: string[]) => Promise<DownsExplained>;
}

type ScriptedRedis = Redis & {
  planeOpen(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
  planeClose(
    k1: string,
    k2: string,
    k3: string,
    k4: string,
    k5: string,
    ...argv: string[]
  ): Promise<number>;
};

export type PlaneCause = "link" | "redis" | "mass" | "restart";

export class PlaneWatch {
  readonly settings: PlaneSettings;
  readonly #o: PlaneWatchOptions;
  readonly #redis: ScriptedRedis;
  /** A connection that fails at once while Redis is away (no offline queue). */
  readonly #probe: Redis;
  #tick: NodeJS.Timeout | undefined;
  #ping: NodeJS.Timeout | undefined;
  #pingFailures = 0;
  #redisDownSince: number | undefined;
  #ticking = false;
  #firstOnline = true;
  #restartCheck: NodeJS.Timeout | undefined;
  /** Open while this process is the restart of a plane that had no live process. */
  #restartOpen = false;

  constructor(options: PlaneWatchOptions) {
    this.#o = options;
    const settings = { ...DEFAULT_PLANE_SETTINGS, ...options.settings };
    settings.parentWaitMs = Math.min(settings.parentWaitMs, settings.massWindowMs / 2);
    this.settings = settings;
    this.#redis = defineScripts<ScriptedRedis>(options.redis, {
      planeOpen: PLANE_OPEN,
      planeClose: PLANE_CLOSE,
    });
    this.#probe = options.redis.duplicate({
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectionName: "jabmon-plane-probe",
    });
    this.#probe.on("error", () => {});
    // A Redis restart closes every connection: an outage even if shorter than two pings.
    this.#probe.on("close", () => this.#redisDown(Date.now()));
    this.#probe.on("ready", () => void this.#redisUp());
    options.link.onOffline(() => void this.#linkDown());
    options.link.onOnline(() => void this.#linkUp());
  }

  async start(): Promise<void> {
    const { redis, keys, log } = this.#o;
    const startedAt = Date.now();
    try {
      const beats = await redis.hgetall(keys.planeBeats());
      const last = Math.max(0, ...Object.values(beats).map(Number));
      await this.#beat();
      // Processes that ran before us: if none of them beats again, they are
      // dead (a kill leaves no word) and the plane was down until we came.
      if (last > 0)
        this.#restartCheck = setTimeout(
          () => void this.#checkRestart(startedAt, last),
          Math.max(0, last + ALIVE_MS - startedAt) + TICK_MS,
        ).unref();
    } catch (err) {
      log.warn({ err: (err as Error).message }, "cannot read the plane's heartbeats");
    }
    this.#tick = setInterval(() => void this.#onTick(), TICK_MS);
    this.#tick.unref();
    this.#ping = setInterval(() => void this.#pingRedis(), this.settings.redisPingMs);
    this.#ping.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#tick);
    this.#tick = undefined;
    clearInterval(this.#ping);
    clearTimeout(this.#restartCheck);
    // Our link going down with us is no plane event of its own; the heartbeat
    // stays, so the next start still sees the plane was without a process.
    await this.#close("", `link|${this.#o.instanceId}`).catch(() => {});
    this.#probe.disconnect();
  }

  /** `startedAt`: our start; `last`: the newest heartbeat before it. */
  async #checkRestart(startedAt: number, last: number): Promise<void> {
    const { redis, keys, instanceId, log } = this.#o;
    try {
      const beats = await redis.hgetall(keys.planeBeats());
      const others = Object.entries(beats).filter(([id]) => id !== instanceId);
      if (others.some(([, beat]) => Number(beat) > startedAt)) return; // another process lives
      const known = await redis.zcard(keys.hosts());
      this.#restartOpen = true;
      await this.open(
        "restart",
        `no component process from ${new Date(last).toISOString()} for ${Math.round((startedAt - last) / 1000)} s (restarted); ${known} hosts known`,
      );
      if (this.#o.link.isOnline()) await this.#endRestart();
    } catch (err) {
      log.warn({ err: (err as Error).message }, "cannot check for a plane restart");
    }
  }

  async #endRestart(): Promise<void> {
    if (!this.#restartOpen) return;
    this.#restartOpen = false;
    await this.close("restart", "component process back and connected");
  }

  /**
   * A host went down: its alert is held (at least the mass window, and for the
   * grace of a plane incident). Returns false if it could not be held (Redis
   * failing), so the caller alerts at once.
   */
  async holdDown(jid: string, now = Date.now()): Promise<boolean> {
    const { redis, keys } = this.#o;
    try {
      if (
        (await redis.zcard(keys.hosts())) < this.settings.massMinHosts &&
        !(await this.holding(now))
      )
        return false;
      await redis.zadd(keys.planeHeld(), now, jid);
      return true;
    } catch {
      return false;
    }
  }

  /** A host is back: a held down alert is dropped (it was never sent). */
  async hostBack(jid: string): Promise<void> {
    await this.#o.redis.zrem(this.#o.keys.planeHeld(), jid).catch(() => {});
  }

  /** Whether host-down alerts are held now: an incident is open or its grace runs. */
  async holding(now = Date.now()): Promise<boolean> {
    const { redis, keys } = this.#o;
    const [incident, graceUntil] = await Promise.all([
      redis.exists(keys.planeIncident()),
      redis.get(keys.planeGraceUntil()),
    ]);
    return incident === 1 || now < Number(graceUntil ?? 0);
  }

  /** Open a cause of the plane incident; returns whether it raised the degraded alert. */
  async open(cause: PlaneCause, text: string, now = Date.now()): Promise<boolean> {
    const member = this.#member(cause);
    const { keys, link, outboxMax } = this.#o;
    const raised = await this.#redis.planeOpen(
      keys.planeCauses(),
      keys.planeIncident(),
      keys.alertOutbox(),
      member,
      String(now),
      String(outboxMax),
      randomUUID(),
      ...alertFields({
        id: randomUUID(),
        kind: "plane",
        jid: link.jid,
        host: "monitoring plane",
        check: cause,
        state: "degraded",
        previous: "ok",
        text: `${text}; host-down alerts held until ${Math.round(this.settings.graceMs / 1000)} s after recovery`,
        time: now,
      }),
    );
    this.#o.log.warn({ cause, raised: raised === 1 }, `monitoring degraded: ${text}`);
    return raised === 1;
  }

  /** Close a cause; returns whether it ended the incident (and raised the recovered alert). */
  async close(cause: PlaneCause, text: string): Promise<boolean> {
    return this.#close(text, this.#member(cause));
  }

  async #close(text: string, member: string, now = Date.now()): Promise<boolean> {
    const { keys, link, outboxMax } = this.#o;
    const held = await this.#o.redis.zcard(keys.planeHeld());
    const raised = await this.#redis.planeClose(
      keys.planeCauses(),
      keys.planeIncident(),
      keys.alertOutbox(),
      keys.planeGraceUntil(),
      keys.planeBeats(),
      member,
      String(now),
      String(outboxMax),
      String(this.settings.graceMs),
      String(ALIVE_MS),
      ...alertFields({
        id: randomUUID(),
        kind: "plane",
        jid: link.jid,
        host: "monitoring plane",
        check: member.split("|")[0] ?? "",
        state: "recovered",
        previous: "degraded",
        text: `${text ? `${text}; ` : ""}${held} hosts still down, alerted individually if not back within ${Math.round(this.settings.graceMs / 1000)} s`,
        time: now,
      }),
    );
    if (raised === 1) this.#o.log.info({ member, held }, "monitoring recovered");
    return raised === 1;
  }

  #member(cause: PlaneCause): string {
    return cause === "mass" ? "mass" : `${cause}|${this.#o.instanceId}`;
  }

  async #linkDown(): Promise<void> {
    try {
      const known = await this.#o.redis.zcard(this.#o.keys.hosts());
      await this.open("link", `component link to ejabberd down; ${known} hosts known`);
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, "cannot record the link outage");
    }
  }

  async #linkUp(): Promise<void> {
    try {
      if (this.#firstOnline) {
        // The first connection is no return of a dropped link.
        this.#firstOnline = false;
        await this.#endRestart();
        return;
      }
      await this.close("link", "component link to ejabberd back");
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, "cannot record the link's return");
    }
  }

  async #pingRedis(): Promise<void> {
    const timeout = Math.max(500, this.settings.redisPingMs);
    let ok = false;
    try {
      ok =
        (await Promise.race([
          this.#probe.ping(),
          new Promise<string>((r) => setTimeout(() => r(""), timeout).unref()),
        ])) === "PONG";
    } catch {
      ok = false;
    }
    if (ok) return this.#redisUp();
    this.#pingFailures += 1;
    // Two in a row: a hung Redis that keeps its connections open.
    if (this.#pingFailures === 2) this.#redisDown(Date.now() - this.settings.redisPingMs);
  }

  #redisDown(since: number): void {
    if (this.#redisDownSince !== undefined || !this.#tick) return;
    this.#redisDownSince = since;
    this.#o.log.warn("Redis unreachable: monitoring degraded");
  }

  async #redisUp(): Promise<void> {
    this.#pingFailures = 0;
    const since = this.#redisDownSince;
    if (since === undefined) return;
    this.#redisDownSince = undefined;
    await this.#reportRedisOutage(since, Date.now()).catch((err: Error) =>
      this.#o.log.warn({ err: err.message }, "cannot report the Redis outage"),
    );
  }

  /** Redis is back: the first process to see it reports the outage, degraded then recovered. */
  async #reportRedisOutage(since: number, now: number): Promise<void> {
    const { redis, keys, log } = this.#o;
    const first = await redis.set(
      keys.planeOnce("redis"),
      String(now),
      "PX",
      this.settings.graceMs,
      "NX",
    );
    log.info({ outageMs: now - since, reporting: first === "OK" }, "Redis reachable again");
    if (first !== "OK") return;
    const known = await redis.zcard(keys.hosts());
    const at = new Date(since).toISOString();
    await this.open(
      "redis",
      `Redis unreachable from ${at} for ${Math.round((now - since) / 1000)} s; ${known} hosts known`,
      since,
    );
    await this.close("redis", "Redis reachable again");
  }

  async #beat(): Promise<void> {
    const { redis, keys, instanceId } = this.#o;
    await redis.hset(keys.planeBeats(), instanceId, String(Date.now()));
  }

  /** Heartbeats of processes long gone, so the hash stays small. */
  async #forget(now: number): Promise<void> {
    const { redis, keys } = this.#o;
    const beats = await redis.hgetall(keys.planeBeats());
    const old = Object.entries(beats)
      .filter(([, beat]) => Number(beat) < now - FORGET_MS)
      .map(([id]) => id);
    if (old.length > 0) await redis.hdel(keys.planeBeats(), ...old);
  }

  async #onTick(): Promise<void> {
    if (this.#ticking || this.#redisDownSince !== undefined) return;
    this.#ticking = true;
    try {
      await this.#beat();
      if (Math.random() < 0.01) await this.#forget(Date.now());
      await this.#checkMass();
      // Drops the causes of dead processes; ends the incident if none is left.
      await this.#close("", "");
      await this.#release();
    } catch (err) {
      this.#o.log.debug({ err: (err as Error).message }, "plane tick failed");
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * Opens the `mass` cause on a wave of downs (outside an incident's grace);
   * closes it once most are back or after the grace.
   */
  async #checkMass(now = Date.now()): Promise<void> {
    const { redis, keys } = this.#o;
    const { massPercent, massWindowMs, massMinHosts, graceMs } = this.settings;
    const [known, recent, held, massSince] = await Promise.all([
      redis.zcard(keys.hosts()),
      redis.zcount(keys.planeHeld(), now - massWindowMs, "+inf"),
      redis.zcard(keys.planeHeld()),
      redis.hget(keys.planeCauses(), "mass"),
    ]);
    const over = (n: number) => known >= massMinHosts && (n * 100) / known > massPercent;
    if (massSince === null) {
      // A wave during an incident's grace is its tail (hosts found gone by the
      // re-probe): held like the rest, not a new incident.
      if (
        over(recent) &&
        (await redis.exists(keys.planeIncident())) === 0 &&
        !(await this.holding(now))
      ) {
        const { unexplained, undecided } = await this.#explainRecent(now);
        if (over(unexplained))
          await this.open(
            "mass",
            `${unexplained} of ${known} hosts went unavailable within ${Math.round(massWindowMs / 1000)} s`,
            now,
          );
        else if (over(unexplained + undecided))
          this.#o.log.debug({ unexplained, undecided }, "a wave of downs waits for their parents");
      }
    } else if (!over(held) || now - Number(massSince) >= graceMs) {
      await this.close("mass", `${known - held} of ${known} hosts available`);
    }
  }

  /**
   * The hosts down within the mass window that no parent's down explains
   * (`unexplained`), and those not to count yet (`undecided`): their parent
   * is online and their down is younger than parentWaitMs. So children
   * recorded down before their parent (its session ends a little later) make
   * no plane incident when it follows, and still count if it does not.
   */
  async #explainRecent(now: number): Promise<{ unexplained: number; undecided: number }> {
    const { redis, keys, explainedDowns } = this.#o;
    const recent = await redis.zrangebyscore(
      keys.planeHeld(),
      now - this.settings.massWindowMs,
      "+inf",
      "WITHSCORES",
    );
    const downAt = new Map<string, number>();
    for (let i = 0; i + 1 < recent.length; i += 2)
      downAt.set(recent[i] as string, Number(recent[i + 1]));
    if (!explainedDowns) return { unexplained: downAt.size, undecided: 0 };
    const { explained, parentUp } = await explainedDowns([...downAt.keys()]);
    const waitingSince = now - this.settings.parentWaitMs;
    let undecided = 0;
    for (const jid of parentUp) if ((downAt.get(jid) ?? 0) > waitingSince) undecided += 1;
    return { unexplained: downAt.size - explained.size - undecided, undecided };
  }

  /** Raise the down alerts whose hold is over, for hosts still down. */
  async #release(now = Date.now()): Promise<void> {
    const { redis, keys, hosts, log } = this.#o;
    if (await this.holding(now)) return;
    const due = await redis.zrangebyscore(
      keys.planeHeld(),
      "-inf",
      now - this.settings.massWindowMs - TICK_MS,
      "LIMIT",
      0,
      500,
    );
    for (const jid of due) {
      // Whoever removes it raises it: one alert across processes.
      if ((await redis.zrem(keys.planeHeld(), jid)) !== 1) continue;
      const host = await hosts.get(jid);
      if (!host || host.online) continue;
      log.info({ jid }, "held host-down alert released: the host did not come back");
      await this.#o.releaseDown(jid, host.offlineReason ?? "went offline");
    }
  }
}
