/**
 * Who counts as an agent (docs/security.md, "Who counts as an agent"): a user
 * account (local@domain) of one of `monitor.agentDomains` and, when
 * `monitor.agents` lists any, whose bare JID matches one of those patterns
 * (`*` any run of characters, `?` one; case-insensitive, linear time: ./glob.ts). One policy, applied by presence, by
 * the pubsub service (agent nodes) and by ingest alike.
 */
import { globMatcher } from "./glob.js";

export interface AgentPolicyConfig {
  agentDomains: string[];
  /** Bare-JID patterns; empty: every user of the agent domains. */
  agents?: string[];
}

export interface AgentPolicy {
  isAgent(bareJid: string): boolean;
}

/**
 * The component's start-up warning when the policy is open by default (no
 * `monitor.agents`): every account of the agent domains is an agent. Open on
 * purpose is written `*@domain`, which does not warn. Undefined: nothing to say.
 */
export function openAgentPolicyWarning(config: AgentPolicyConfig): string | undefined {
  if ((config.agents ?? []).length > 0) return undefined;
  const domains = config.agentDomains.join(", ");
  return (
    `monitor.agents is not set: every account of ${domains} counts as an agent ` +
    "and may report results and raise alerts; set JABMON_AGENTS (monitor.agents) to the agents' " +
    `bare JIDs or naming pattern (e.g. agent-*@${config.agentDomains[0] ?? "example.org"}), ` +
    `or to *@${config.agentDomains[0] ?? "example.org"} to keep it so (docs/security.md, "Who counts as an agent")`
  );
}

export function agentPolicy(config: AgentPolicyConfig): AgentPolicy {
  const domains = new Set(config.agentDomains.map((d) => d.toLowerCase()));
  const patterns = (config.agents ?? []).map(globMatcher);
  return {
    isAgent(bareJid) {
      const bare = bareJid.toLowerCase();
      const at = bare.indexOf("@");
      if (at <= 0 || bare.includes("/")) return false;
      if (!domains.has(bare.slice(at + 1))) return false;
      return patterns.length === 0 || patterns.some((matches) => matches(bare));
    },
  };
}
