/**
 * Liveness on top of presence: an unavailable presence marks a host down at
 * once (PresenceTracker); a host that sent neither presence nor data for
 * `staleMs` (a silent partition) is marked down with the reason "stale"; each
 * outage gives one down alert and, when the host is back, one recovery alert
 * (liveAlert script: the flag and the outbox entry change together).
 *
 * Silence only means something while we can hear: when the component's own
 * link to ejabberd is down, no presence or item can reach us, so the sweep
 * does not run, and after the link returns the time we were blind does not
 * count towards a host's silence (its stale deadline is rebuilt from its last
 * sighting plus the outage). Hosts that went away meanwhile are found by the
 * PresenceTracker's re-probe (no answer within `presenceConfirmMs`).
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { ComponentLink } from "../../component/index.js";
import type { Logger } from "../../log/index.js";
import { defineScripts, type HostStore, type Keys, type Redis } from "../../store/index.js";
import { el } from "../../xmpp/index.js";
import { alertFields } from "../alerts/record.js";
import { LIVE_ALERT } from "../scripts.js";
import type { PlaneWatch } from "./plane.js";
import type { PresenceTracker } from "./presence.js";

export const STALE_REASON = "stale";

export interface LivenessEvents {
  down: [jid: string, reason: string];
  up: [jid: string];
}

export interface LivenessOptions {
  redis: Redis;
  keys: Keys;
  hosts: HostStore;
  presence: PresenceTracker;
  link: ComponentLink;
  log: Logger;
  staleMs: number;
  outboxMax: number;
  /**
   * After the link returns, agents get this long to answer the re-probe
   * before silence counts again (the PresenceTracker's presenceConfirmMs).
   */
  reconnectGraceMs?: number;
}

type ScriptedRedis = Redis & {
  liveAlert(k1: string, k2: string, ...argv: string[]): Promise<number>;
};

export class Liveness extends EventEmitter<LivenessEvents> {
  readonly #o: LivenessOptions;
  readonly #redis: ScriptedRedis;
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;
  /**
   * When the link went down (undefined while it is up). Until the first
   * connection we have heard nothing, since ever as far as this process
   * knows: a restarted component does not count its own downtime as the
   * hosts' silence either; the re-probe at connect finds the hosts that left.
   */
  #blindSince: number | undefined = 0;
  /** The last outage seen: [down, up] (ms). */
  #lastOutage: [number, number] | undefined;
  /** Holds host-down alerts through plane incidents (src/monitor/hosts/plane.ts). */
  #plane: PlaneWatch | undefined;

  constructor(options: LivenessOptions) {
    super();
    this.#o = options;
    this.#redis = defineScripts<ScriptedRedis>(options.redis, { liveAlert: LIVE_ALERT });
    options.presence.on("hostOffline", (jid, reason) => void this.#down(jid, reason));
    options.presence.on("hostOnline", (jid) => void this.#up(jid));
    options.link.onOffline(() => this.linkDown());
    options.link.onOnline(() => this.linkUp());
  }

  /** The component's link dropped: from now on silence proves nothing. */
  linkDown(now = Date.now()): void {
    if (this.#blindSince !== undefined) return;
    this.#blindSince = now;
    this.#o.log.warn("component link down: stale detection paused");
  }

  /** The link is back: stale deadlines are rebuilt, skipping the blind time. */
  linkUp(now = Date.now()): void {
    const since = this.#blindSince;
    if (since === undefined) return;
    this.#blindSince = undefined;
    this.#lastOutage = [since, now + (this.#o.reconnectGraceMs ?? 0)];
    this.#o.log.info({ blindMs: now - since }, "component link up: stale detection resumed");
  }

  /**
   * How long a host last seen at `lastSeen` has been silent while we could
   * hear it: the last outage, and the reconnect grace after it, do not count.
   */
  silentFor(lastSeen: number, now: number): number {
    const outage = this.#lastOutage;
    if (!outage) return now - lastSeen;
    const [down, up] = outage;
    const blind = Math.max(0, Math.min(up, now) - Math.max(down, lastSeen));
    return now - lastSeen - blind;
  }

  /** Host-down alerts go through `plane`, which holds them through plane incidents. */
  holdDownsWith(plane: PlaneWatch): void {
    this.#plane = plane;
  }

  /** Raise a host's down alert now (a held one whose host did not come back). */
  async alertDown(jid: string, reason: string): Promise<void> {
    await this.#alert(jid, "down", reason);
  }

  start(): void {
    const every = Math.max(250, Math.min(5000, Math.floor(this.#o.staleMs / 4)));
    this.#timer = setInterval(() => void this.sweep(), every);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * Data arrived from these agents: a host marked stale is evidently back.
   * One round trip for all of them; the few found stale are re-read and
   * brought back one by one.
   */
  async dataSeen(jids: string[]): Promise<void> {
    try {
      const pipeline = this.#redis.pipeline();
      for (const jid of jids) pipeline.hget(this.#o.keys.host(jid), "offlineReason");
      const replies = (await pipeline.exec()) ?? [];
      for (const [i, jid] of jids.entries()) {
        const [err, reason] = replies[i] ?? [];
        if (!err && reason === STALE_REASON) await this.#back(jid);
      }
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, "cannot check hosts for data seen");
    }
  }

  async #back(jid: string): Promise<void> {
    const host = await this.#o.hosts.get(jid);
    if (!host || host.online || host.offlineReason !== STALE_REASON || !host.fullJid) return;
    if (await this.#o.hosts.recordPresence(jid, host.fullJid, {})) await this.#up(jid);
  }

  /** Mark hosts silent for longer than staleMs down. Safe to run on several instances. */
  async sweep(now = Date.now()): Promise<string[]> {
    if (this.#sweeping || this.#blindSince !== undefined || !this.#o.link.isOnline()) return [];
    this.#sweeping = true;
    const marked: string[] = [];
    try {
      const cutoff = now - this.#o.staleMs;
      const candidates = await this.#redis.zrangebyscore(
        this.#o.keys.hosts(),
        "-inf",
        `(${cutoff}`,
      );
      for (const jid of candidates) {
        const host = await this.#o.hosts.get(jid);
        if (!host?.online) continue;
        if (this.silentFor(host.lastSeen, now) <= this.#o.staleMs) continue;
        // Only if not seen since we read it (data or presence may race this sweep).
        const seenCutoff = Math.min(cutoff, host.lastSeen + 1);
        if (await this.#o.hosts.markStaleOffline(jid, seenCutoff, STALE_REASON, now)) {
          marked.push(jid);
          this.#o.log.info({ jid }, "host offline: stale");
          // If the agent is alive after all, it answers our presence and comes back.
          if (host.fullJid) this.#o.link.send(el("presence", { to: host.fullJid }));
          await this.#down(jid, STALE_REASON);
        }
      }
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, "stale sweep failed");
    } finally {
      this.#sweeping = false;
    }
    return marked;
  }

  async #down(jid: string, reason: string): Promise<void> {
    try {
      // Held (never dropped) unless the plane cannot hold it: then at once.
      if (!(await this.#plane?.holdDown(jid))) await this.#alert(jid, "down", reason);
      this.emit("down", jid, reason);
    } catch (err) {
      this.#o.log.error({ err, jid }, "cannot record host down");
    }
  }

  async #up(jid: string): Promise<void> {
    try {
      await this.#plane?.hostBack(jid);
      // Recoveries are never held: sent if a down alert was (liveAlert's flag).
      await this.#alert(jid, "up", "");
      this.emit("up", jid);
    } catch (err) {
      this.#o.log.error({ err, jid }, "cannot record host up");
    }
  }

  async #alert(jid: string, state: "down" | "up", text: string): Promise<void> {
    const host = await this.#o.hosts.get(jid);
    await this.#redis.liveAlert(
      this.#o.keys.host(jid),
      this.#o.keys.alertOutbox(),
      state,
      String(this.#o.outboxMax),
      ...alertFields({
        id: randomUUID(),
        kind: "host",
        jid,
        host: host?.host ?? jid,
        check: "",
        state,
        previous: state === "down" ? "up" : "down",
        text,
        time: Date.now(),
      }),
    );
  }
}
