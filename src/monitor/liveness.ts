/**
 * Liveness on top of presence: an unavailable presence marks a host down at
 * once (PresenceTracker); a host that sent neither presence nor data for
 * `staleMs` (a silent partition) is marked down with the reason "stale"; each
 * outage gives one down alert and, when the host is back, one recovery alert
 * (liveAlert script: the flag and the outbox entry change together).
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { ComponentLink } from "../component/index.js";
import type { Logger } from "../log/index.js";
import type { HostStore, Keys, Redis } from "../store/index.js";
import { LIVE_ALERT } from "../store/monitor-scripts.js";
import { el } from "../xmpp/index.js";
import { alertFields } from "./alert-types.js";
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
}

type ScriptedRedis = Redis & {
  liveAlert(k1: string, k2: string, ...argv: string[]): Promise<number>;
};

export class Liveness extends EventEmitter<LivenessEvents> {
  readonly #o: LivenessOptions;
  readonly #redis: ScriptedRedis;
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(options: LivenessOptions) {
    super();
    this.#o = options;
    this.#redis = options.redis as ScriptedRedis;
    if (typeof this.#redis.liveAlert !== "function")
      options.redis.defineCommand("liveAlert", { numberOfKeys: 2, lua: LIVE_ALERT });
    options.presence.on("hostOffline", (jid, reason) => void this.#down(jid, reason));
    options.presence.on("hostOnline", (jid) => void this.#up(jid));
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
    if (this.#sweeping) return [];
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
        if (await this.#o.hosts.markStaleOffline(jid, cutoff, STALE_REASON, now)) {
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
      await this.#alert(jid, "down", reason);
      this.emit("down", jid, reason);
    } catch (err) {
      this.#o.log.error({ err, jid }, "cannot record host down");
    }
  }

  async #up(jid: string): Promise<void> {
    try {
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
