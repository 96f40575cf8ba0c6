/**
 * Which agents a module is for (its target selector), and which agents are
 * in a canary roll-out. Both are decided by the agent itself from its own
 * JID, host name and groups, the same way on every implementation.
 */
import { createHash } from "node:crypto";
import { globMatch } from "../protocol/index.js";
import type { ModuleTarget } from "./manifest.js";

export interface AgentIdentity {
  /** The agent's bare JID. */
  jid: string;
  host: string;
  groups: string[];
}

/** True if the agent is in one of the target's groups or its JID or host name matches one of its globs. */
export function targetMatches(target: ModuleTarget, agent: AgentIdentity): boolean {
  if (target.groups.some((g) => agent.groups.includes(g))) return true;
  return target.hosts.some((glob) => globMatch(glob, agent.jid) || globMatch(glob, agent.host));
}

/**
 * The agent's canary bucket, 0-9999: the first four bytes of SHA-256 of its
 * bare JID (UTF-8, lower case), big-endian, modulo 10,000. Stable for a JID,
 * so the same hosts are the canaries of every roll-out.
 */
export function canaryBucket(bareJid: string): number {
  const digest = createHash("sha256").update(bareJid.toLowerCase(), "utf8").digest();
  return digest.readUInt32BE(0) % 10_000;
}

/** In a roll-out to `percent` % (0-100, two decimals), an agent takes part iff its bucket < percent × 100. */
export function inCanary(bareJid: string, percent: number): boolean {
  return canaryBucket(bareJid) < Math.round(percent * 100);
}
