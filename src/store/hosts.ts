/**
 * The status database's host records, as kept from presence.
 */
import type { Redis } from "ioredis";
import type { HostState } from "../protocol/index.js";
import type { Keys } from "./keys.js";
import { MARK_OFFLINE, MARK_STALE_OFFLINE, RECORD_PRESENCE } from "./scripts.js";

export interface HostRecord {
  jid: string;
  fullJid: string;
  host: string;
  online: boolean;
  state: HostState | "down";
  status: string;
  version: string;
  lastSeen: number;
  since: number;
  offlineReason: string;
  checks?: number;
  failing?: number;
  /** Badness score and the state it maps to (set by the monitor's scorer). */
  score?: number;
  scoreState?: HostState;
}

export interface PresenceUpdate {
  host?: string;
  state?: HostState;
  status?: string;
  version?: string;
  checks?: number;
  failing?: number;
}

type ScriptedRedis = Redis & {
  recordPresence(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
  markOffline(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
  markStaleOffline(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
};

function defineScripts(redis: Redis): ScriptedRedis {
  const scripted = redis as ScriptedRedis;
  if (typeof scripted.recordPresence !== "function") {
    redis.defineCommand("recordPresence", { numberOfKeys: 3, lua: RECORD_PRESENCE });
    redis.defineCommand("markOffline", { numberOfKeys: 3, lua: MARK_OFFLINE });
    redis.defineCommand("markStaleOffline", { numberOfKeys: 3, lua: MARK_STALE_OFFLINE });
  }
  return scripted;
}

const RANK: Record<string, number> = { ok: 0, unknown: 1, warning: 2, critical: 3 };

/** The worse of what the agent says (presence) and what the monitor's score says. */
function worse(a: string | undefined, b: string | undefined): HostState {
  const x = (a ?? "unknown") as HostState;
  if (!b) return x;
  return (RANK[b] ?? 0) > (RANK[x] ?? 0) ? (b as HostState) : x;
}

function toRecord(hash: Record<string, string>): HostRecord | undefined {
  if (!hash.jid) return undefined;
  const online = hash.online === "1";
  const record: HostRecord = {
    jid: hash.jid,
    fullJid: hash.fullJid ?? "",
    host: hash.host || hash.jid.split("@")[0] || hash.jid,
    online,
    state: online ? worse(hash.state, hash.scoreState) : "down",
    status: hash.status ?? "",
    version: hash.version ?? "",
    lastSeen: Number(hash.lastSeen ?? 0),
    since: Number(hash.since ?? 0),
    offlineReason: hash.offlineReason ?? "",
  };
  if (hash.checks) record.checks = Number(hash.checks);
  if (hash.failing) record.failing = Number(hash.failing);
  if (hash.score) record.score = Number(hash.score);
  if (hash.scoreState) record.scoreState = hash.scoreState as HostState;
  return record;
}

export class HostStore {
  readonly #redis: ScriptedRedis;
  readonly #keys: Keys;

  constructor(redis: Redis, keys: Keys) {
    this.#redis = defineScripts(redis);
    this.#keys = keys;
  }

  /** Returns true when the host came online with this presence. */
  async recordPresence(
    bareJid: string,
    fullJid: string,
    update: PresenceUpdate,
    now = Date.now(),
  ): Promise<boolean> {
    const fields: string[] = [];
    for (const [k, v] of Object.entries(update)) if (v !== undefined) fields.push(k, String(v));
    const k = this.#keys;
    const cameOnline = await this.#redis.recordPresence(
      k.host(bareJid),
      k.hosts(),
      k.changes(),
      bareJid,
      fullJid,
      String(now),
      ...fields,
    );
    return cameOnline === 1;
  }

  /** Returns true when the host went offline (false if already offline or a stale session). */
  async markOffline(
    bareJid: string,
    fullJid: string | undefined,
    reason: string,
    now = Date.now(),
  ): Promise<boolean> {
    const k = this.#keys;
    const changed = await this.#redis.markOffline(
      k.host(bareJid),
      k.hosts(),
      k.changes(),
      bareJid,
      fullJid ?? "",
      String(now),
      reason,
    );
    return changed === 1;
  }

  /** Offline unless seen at or after `cutoff`. */
  async markStaleOffline(
    bareJid: string,
    cutoff: number,
    reason: string,
    now = Date.now(),
  ): Promise<boolean> {
    const k = this.#keys;
    const changed = await this.#redis.markStaleOffline(
      k.host(bareJid),
      k.hosts(),
      k.changes(),
      bareJid,
      String(cutoff),
      String(now),
      reason,
    );
    return changed === 1;
  }

  async get(bareJid: string): Promise<HostRecord | undefined> {
    return toRecord(await this.#redis.hgetall(this.#keys.host(bareJid)));
  }

  /** Every known host, most recently seen first. */
  async list(): Promise<HostRecord[]> {
    return this.getMany(await this.#redis.zrevrange(this.#keys.hosts(), 0, -1));
  }

  /** The records of these hosts (unknown ones left out), in one round trip. */
  async getMany(jids: string[]): Promise<HostRecord[]> {
    if (jids.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const jid of jids) pipeline.hgetall(this.#keys.host(jid));
    const results = (await pipeline.exec()) ?? [];
    const records: HostRecord[] = [];
    for (const [err, hash] of results) {
      if (err) continue;
      const record = toRecord(hash as Record<string, string>);
      if (record) records.push(record);
    }
    return records;
  }

  /** Hosts currently online (for re-probing after a component reconnect). */
  async onlineHosts(): Promise<HostRecord[]> {
    return (await this.list()).filter((host) => host.online);
  }
}
