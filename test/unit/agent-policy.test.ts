import { describe, expect, it } from "vitest";
import { componentSchema } from "../../src/config/index.js";
import { agentPolicy } from "../../src/protocol/index.js";

describe("agentPolicy", () => {
  it("takes every user of the agent domains when no patterns are listed", () => {
    const policy = agentPolicy({ agentDomains: ["Hosts.Example.org"] });
    expect(policy.isAgent("web01@hosts.example.org")).toBe(true);
    expect(policy.isAgent("WEB01@hosts.example.org")).toBe(true);
    expect(policy.isAgent("web01@example.org")).toBe(false);
    expect(policy.isAgent("hosts.example.org")).toBe(false);
    expect(policy.isAgent("@hosts.example.org")).toBe(false);
    expect(policy.isAgent("web01@hosts.example.org/res")).toBe(false);
  });

  it("takes only the listed patterns when there are any, still within the agent domains", () => {
    const policy = agentPolicy({
      agentDomains: ["example.org"],
      agents: ["agent-*@example.org", "db*-backup@example.org"],
    });
    expect(policy.isAgent("agent-web01@example.org")).toBe(true);
    expect(policy.isAgent("db7-backup@example.org")).toBe(true);
    expect(policy.isAgent("alice@example.org")).toBe(false);
    expect(policy.isAgent("agent-web01@other.org")).toBe(false);
  });
});

describe("monitor.agents configuration", () => {
  const parse = (monitor: Record<string, unknown>) =>
    componentSchema.safeParse({ xmpp: { password: "k3Jx9qPz2Lm4Vb7Nw8Rt" }, monitor });

  it("accepts patterns of the agent domains, also comma-separated", () => {
    const parsed = parse({
      agentDomains: ["example.org"],
      agents: "agent-*@example.org, x@example.org",
    });
    expect(parsed.success && parsed.data.monitor.agents).toEqual([
      "agent-*@example.org",
      "x@example.org",
    ]);
  });

  it("names the key and the reason for a pattern outside the agent domains", () => {
    const parsed = parse({ agentDomains: ["example.org"], agents: ["agent-*@other.org"] });
    expect(parsed.success).toBe(false);
    const issue = parsed.error?.issues[0];
    expect(issue?.path).toEqual(["monitor", "agents", 0]);
    expect(issue?.message).toMatch(/not in an agent domain/);
  });
});
