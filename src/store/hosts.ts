/**
 * The status database's host records, as kept from presence.
 */
import type { Redis } from "ioredis";
import {
  type DerivedState,
  deriveHostStatus,
  type HostState,
  tallyFromHash,
} from "../protocol/index.js";
import type { Keys } from "./keys.js";
import { defineScripts } from "./lua.js";
import { CLAIM_HOST_NAME, MARK_OFFLINE, MARK_STALE_OFFLINE, RECORD_PRESENCE } from "./scripts.js";

export interface HostRecord {
  jid: string;
  fullJid: string;
  host: string;
  online: boolean;
  /** The derived state (src/store/host-status.ts): what every view shows. */
  state: DerivedState;
  /** What decided the state, in words ("1 of 3 checks critical: webcheck"). */
  summary: string;
  /** The agent's own status text (its presence). */
  status: string;
  version: string;
  lastSeen: number;
  since: number;
  offlineReason: string;
  checks?: number;
  failing?: number;
  /** From the agent's presence: its groups, and the modules it runs as name@version. */
  groups?: string[];
  modules?: string[];
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
  /** Space-separated lists (groups; name@version of each module). */
  groups?: string;
  modules?: string;
}

type ScriptedRedis = Redis & {
  recordPresence(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
  markOffline(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
  markStaleOffline(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
  claimHostName(k1: string, k2: string, bare: string, name: string): Promise<number>;
};

const SCRIPTS = {
  recordPresence: RECORD_PRESENCE,
  markOffline: MARK_OFFLINE,
  markStaleOffline: MARK_STALE_OFFLINE,
  claimHostName: CLAIM_HOST_NAME,
};

function toRecord(hash: Record<string, string>): HostRecord | undefined {
  if (!hash.jid) return undefined;
  const online = hash.online === "1";
  const tally = tallyFromHash(hash);
  const score = hash.score ? Number(hash.score) : undefined;
  // The one status model: every view reads this state (docs/monitor.md, "Host status").
  const derived = deriveHostStatus({
    online,
    offlineReason: hash.offlineReason,
    presenceState: hash.state,
    checks: tally,
    scoreState: hash.scoreState,
    score,
  });
  const record: HostRecord = {
    jid: hash.jid,
    fullJid: hash.fullJid ?? "",
    host: hash.host || hash.jid.split("@")[0] || hash.jid,
    online,
    state: derived.state,
    summary: derived.summary,
    status: hash.status ?? "",
    version: hash.version ?? "",
    lastSeen: Number(hash.lastSeen ?? 0),
    since: Number(hash.since ?? 0),
    offlineReason: hash.offlineReason ?? "",
  };
  // The monitor's tally counts every result it stored; the agent's counts only its own findings.
  if (tally) {
    record.checks = tally.count;
    record.failing = tally.critical + tally.warning + tally.unknown;
  } else {
    if (hash.checks) record.checks = Number(hash.checks);
    if (hash.failing) record.failing = Number(hash.failing);
  }
  if (hash.groups) record.groups = hash.groups.split(" ");
  if (hash.modules) record.modules = hash.modules.split(" ");
  if (score !== undefined) record.score = score;
  if (hash.scoreState) record.scoreState = hash.scoreState as HostState;
  return record;
}

export class HostStore {
  readonly #redis: ScriptedRedis;
  readonly #keys: Keys;

  constructor(redis: Redis, keys: Keys) {
    this.#redis = defineScripts<ScriptedRedis>(redis, SCRIPTS);
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

  /**
   * Bind a host name to this JID (first claim wins; case-insensitive). False
   * when another JID holds the name: the caller must not show it for this JID.
   */
  async claimName(bareJid: string, name: string): Promise<boolean> {
    const k = this.#keys;
    return (
      (await this.#redis.claimHostName(
        k.hostNames(),
        k.host(bareJid),
        bareJid,
        name.toLowerCase(),
      )) === 1
    );
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
    return this.getMany(await this.jids());
  }

  /** Every known host's bare JID, most recently changed first. */
  jids(): Promise<string[]> {
    return this.#redis.zrevrange(this.#keys.hosts(), 0, -1);
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
