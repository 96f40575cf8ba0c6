import { describe, expect, it } from "vitest";
import { agentFilter } from "../../src/alertbot/index.js";
import { type GlobSteps, globMatch } from "../../src/protocol/index.js";
import { hostMatches } from "../../src/rpc/index.js";

describe("globMatch", () => {
  it("matches * and ? anchored and case-insensitively", () => {
    expect(globMatch("web*@localhost", "web01@localhost")).toBe(true);
    expect(globMatch("web*@localhost", "db01@localhost")).toBe(false);
    expect(globMatch("*", "")).toBe(true);
    expect(globMatch("*", "anything@x")).toBe(true);
    expect(globMatch("db?.x@y", "DB1.x@y")).toBe(true);
    expect(globMatch("db?.x@y", "db1-x@y")).toBe(false);
    expect(globMatch("db?", "db")).toBe(false);
    expect(globMatch("a*b*c", "a-b-b-c")).toBe(true);
    expect(globMatch("a*b*c", "a-b-b-cd")).toBe(false);
    expect(globMatch("*ab*ab", "abab")).toBe(true);
    expect(globMatch("ab*ba", "aba")).toBe(false);
    expect(globMatch("web", "web01")).toBe(false);
    expect(globMatch("*.example.org", "web.example.org")).toBe(true);
    // No regex syntax leaks through.
    expect(globMatch("a.c", "abc")).toBe(false);
    expect(globMatch("(a|b)", "a")).toBe(false);
  });

  it("answers an eight-star pattern against a 60-character name in at most pattern x name steps", () => {
    const pattern = `${"*a".repeat(8)}*b`;
    const name = "a".repeat(60);
    const counter: GlobSteps = { steps: 0 };
    expect(globMatch(pattern, name, counter)).toBe(false);
    expect(counter.steps).toBeLessThanOrEqual((pattern.length + 1) * (name.length + 1));
  });

  it("filters hosts on the JID, its local part, the host name and its first label", () => {
    const host = { jid: "web01@dc2.example.org", host: "web01.dc2.example.org" };
    expect(hostMatches(host, "web*")).toBe(true);
    expect(hostMatches(host, "*@dc2.example.org")).toBe(true);
    expect(hostMatches(host, "db*")).toBe(false);
    // The ReDoS pattern of issue 18 through the hosts.list path completes.
    expect(
      hostMatches({ jid: `${"a".repeat(60)}@x`, host: "a".repeat(60) }, `${"*a".repeat(8)}*b`),
    ).toBe(false);
  });
});

describe("the alertbot's agent filter", () => {
  it("matches agents' bare JIDs by glob, anchored and case-insensitively", () => {
    expect(agentFilter("web*@localhost")("web01@localhost")).toBe(true);
    expect(agentFilter("web*@localhost")("db01@localhost")).toBe(false);
    expect(agentFilter("*")("anything@x")).toBe(true);
    expect(agentFilter("db?.x@y")("DB1.x@y")).toBe(true);
    expect(agentFilter("db?.x@y")("db1-x@y")).toBe(false);
    expect(agentFilter("web")("web01@localhost")).toBe(false);
    // Regular-expression syntax is literal.
    expect(agentFilter("a.c@x")("abc@x")).toBe(false);
    expect(agentFilter("(a|b)@x")("a@x")).toBe(false);
    expect(agentFilter("a+@x")("a+@x")).toBe(true);
  });

  it("answers many stars against a long name that does not match in well under a second", () => {
    // The RegExp translation it replaced backtracked for minutes on this (issue 18).
    const stars = agentFilter(`${"*a".repeat(12)}*b`);
    const name = `${"a".repeat(200)}@localhost`;
    const started = performance.now();
    expect(stars(name)).toBe(false);
    expect(stars(`${"a".repeat(200)}b`)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
