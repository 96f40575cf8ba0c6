import { describe, expect, it } from "vitest";
import {
  asHost,
  editDistance,
  formatCheckOutcomes,
  formatDown,
  formatHelp,
  formatOverview,
  formatUnknown,
  parseCommand,
} from "../../src/adminbot/index.js";

describe("the AdminBot parser", () => {
  it.each([
    ["status", { kind: "overview" }],
    ["Status?", { kind: "overview" }],
    ["how are things?", { kind: "overview" }],
    ["what's down?", { kind: "down" }],
    ["What’s down", { kind: "down" }],
    ["whats broken", { kind: "down" }],
    ["is anything down?", { kind: "down" }],
    ["problems", { kind: "down" }],
    ["what's critical?", { kind: "down", state: "critical" }],
    ["which hosts are warning", { kind: "down", state: "warning" }],
    ["critical hosts", { kind: "down", state: "critical" }],
    ["status web01", { kind: "hosts", pattern: "web01" }],
    ["how is db02?", { kind: "hosts", pattern: "db02" }],
    ["status web*", { kind: "hosts", pattern: "web*" }],
    ["disk on db*", { kind: "check", check: "disk", pattern: "db*" }],
    ["check load on web01", { kind: "check", check: "load", pattern: "web01" }],
    ["run check_disk on web01", { kind: "run", check: "check_disk", pattern: "web01" }],
    [
      "please run disk_root on web01@localhost",
      { kind: "run", check: "disk_root", pattern: "web01@localhost" },
    ],
    ["ack 42 looking into it", { kind: "ack", id: 42, comment: "looking into it" }],
    ["ack #7: Disk Full, cleaning", { kind: "ack", id: 7, comment: "Disk Full, cleaning" }],
    ["ack 9", { kind: "ack", id: 9, comment: "" }],
    ["unack 42", { kind: "unack", id: 42 }],
    ["unacknowledge alert #7", { kind: "unack", id: 7 }],
    [
      "silence web* for 2h deploy",
      { kind: "silence", pattern: "web*", durationS: 7200, comment: "deploy" },
    ],
    ["mute db01 30m", { kind: "silence", pattern: "db01", durationS: 1800, comment: "" }],
    [
      "silence web* for 1h 30m Kernel upgrade",
      { kind: "silence", pattern: "web*", durationS: 5400, comment: "Kernel upgrade" },
    ],
    [
      "silence web*/disk* for 1h full",
      { kind: "silence", pattern: "web*/disk*", durationS: 3600, comment: "full" },
    ],
    ["silences", { kind: "silences" }],
    ["unsilence 3", { kind: "unsilence", id: 3 }],
    ["silence remove 4", { kind: "unsilence", id: 4 }],
    ["alerts", { kind: "alerts" }],
    ["show alerts", { kind: "alerts" }],
    ["reload web01", { kind: "reload", pattern: "web01" }],
    ["modules", { kind: "modules" }],
    ["modules web-basics", { kind: "modules", name: "web-basics" }],
    ["show modules", { kind: "modules" }],
    ["help", { kind: "help" }],
  ])("reads %j", (text, command) => {
    expect(parseCommand(text)).toEqual(command);
  });

  it("suggests the closest commands for a typo", () => {
    const result = parseCommand("stauts web01");
    expect(result.kind).toBe("unknown");
    expect(result.kind === "unknown" && result.suggestions[0]).toBe("status <host|glob>");
    const silence = parseCommand("silense web* 2h");
    expect(silence.kind === "unknown" && silence.suggestions).toContain(
      "silence <glob> for <duration> [comment]",
    );
  });

  it("offers no suggestion for something unrelated", () => {
    expect(parseCommand("make me a sandwich")).toMatchObject({ kind: "unknown", suggestions: [] });
  });

  it("does not take a silence without a duration", () => {
    expect(parseCommand("silence web*").kind).toBe("unknown");
  });

  it("computes edit distance", () => {
    expect(editDistance("status", "stauts")).toBe(2);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("ack", "ack")).toBe(0);
  });
});

describe("the AdminBot formatter", () => {
  const now = new Date("2026-11-25T12:00:00Z");
  const hosts = [
    { jid: "web01@x", host: "web01", online: true, state: "ok", status: "all 2 checks ok" },
    {
      jid: "db01@x",
      host: "db01",
      online: true,
      state: "critical",
      status: "1 check failing: disk /var 96%",
    },
    {
      jid: "web02@x",
      host: "web02",
      online: false,
      state: "down",
      status: "",
      offlineReason: "went offline",
      since: new Date("2026-11-25T11:55:00Z"),
    },
    { jid: "app01@x", host: "app01", online: true, state: "warning", status: "load 9.1" },
  ].map(asHost);

  it("puts the worst first in short lines", () => {
    expect(formatOverview(hosts, now).split("\n")).toEqual([
      "4 hosts: 1 down, 1 critical, 1 warning, 1 ok",
      "DOWN web02: went offline 5m ago",
      "CRIT db01: 1 check failing: disk /var 96%",
      "WARN app01: load 9.1",
    ]);
  });

  it("explains a host by the status model's words, not the agent's text", () => {
    const vm = asHost({
      jid: "vm@x",
      host: "vm",
      online: true,
      state: "critical",
      summary: "1 of 3 checks critical: webcheck",
      status: "all 2 checks ok",
    });
    expect(formatDown([vm], 2, now)).toBe("CRIT vm: 1 of 3 checks critical: webcheck");
    expect(formatDown([], 2, now, "critical")).toBe("No host is critical (of 2).");
  });

  it("says so when nothing is down", () => {
    expect(formatDown([], 3, now)).toBe("Nothing is down: all 3 hosts ok.");
    expect(formatOverview([hosts[0] as never], now)).toBe("1 host: 1 ok. All fine.");
  });

  it("shows check results worst first, errors on top", () => {
    expect(
      formatCheckOutcomes("disk", [
        { host: "db01", result: { name: "disk_root", state: "ok", output: "disk / 40%" } },
        { host: "db02", error: "db02@x is offline" },
        { host: "db03", result: { name: "disk_root", state: "critical", output: "disk / 99%" } },
      ]).split("\n"),
    ).toEqual([
      "ERR db02 disk: db02@x is offline",
      "CRIT db03 disk_root: disk / 99%",
      "OK db01 disk_root: disk / 40%",
    ]);
  });

  it("caps long lists", () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      asHost({ jid: `h${i}@x`, host: `h${i}`, online: true, state: "warning", status: "x" }),
    );
    const lines = formatDown(many, 40, now).split("\n");
    expect(lines).toHaveLength(15);
    expect(lines.at(-1)).toBe("… and 26 more");
  });

  it("helps with closest commands and tells viewers what they may do", () => {
    expect(formatUnknown("stauts", ["status <host|glob>"])).toBe(
      'Sorry, I didn\'t understand "stauts". Did you mean: status <host|glob>? Say "help" for more.',
    );
    expect(formatHelp("viewer")).toMatch(/read-only/);
    expect(formatHelp("admin")).not.toMatch(/read-only/);
  });
});
