import { describe, expect, it } from "vitest";
import { parseCommand } from "../../src/adminbot/parse.js";
import { nextRunInMs } from "../../src/agent/checks.js";
import {
  activeWindow,
  checkAttempts,
  type Downtime,
  groupMessage,
  nextSoftHard,
  normaliseDowntime,
  parentJid,
  type RouteConfig,
  routeAlert,
} from "../../src/monitor/alerting/index.js";
import type { AlertRecord } from "../../src/monitor/index.js";
import { parseStatusPresence, statusPresence } from "../../src/protocol/index.js";

const alert = (over: Partial<AlertRecord>): AlertRecord => ({
  id: "x",
  kind: "check",
  jid: "web01@localhost",
  host: "web01",
  check: "http",
  state: "critical",
  previous: "ok",
  text: "down",
  time: 0,
  ...over,
});

describe("soft and hard", () => {
  it("stays soft until attempts bad results in a row, then alerts once", () => {
    let before = {
      state: null as string | null,
      hardState: null as string | null,
      attempt: null as string | null,
    };
    const alerts: boolean[] = [];
    for (const state of [
      "critical",
      "critical",
      "ok",
      "critical",
      "critical",
      "critical",
      "warning",
      "ok",
    ]) {
      const after = nextSoftHard(before, state, 3);
      alerts.push(after.hardChanged);
      before = { state, hardState: after.hardState, attempt: String(after.attempt) };
    }
    expect(alerts).toEqual([false, false, false, false, false, true, true, true]);
  });
  it("treats a bad check from before soft/hard as hard", () => {
    expect(
      nextSoftHard({ state: "critical", hardState: null, attempt: null }, "critical", 3),
    ).toMatchObject({
      stateType: "hard",
      hardChanged: false,
    });
  });
  it("takes attempts from the label, bounded", () => {
    expect(checkAttempts({ "jabmon.attempts": "5" }, 1)).toBe(5);
    expect(checkAttempts({ "jabmon.attempts": "zero" }, 2)).toBe(2);
    expect(checkAttempts({ "jabmon.attempts": "1000" }, 1)).toBe(100);
  });
  it("has the agent retry a soft check at its retry interval", () => {
    const check = {
      name: "c",
      intervalMs: 60_000,
      timeoutMs: 1000,
      attempts: 3,
      retryIntervalMs: 500,
      run: async () => ({}) as never,
    };
    expect([0, 1, 2, 3].map((bad) => nextRunInMs(check, bad))).toEqual([60_000, 500, 500, 60_000]);
  });
});

describe("downtime windows", () => {
  const base = { id: "1", host: "web*", check: "*", comment: "", createdBy: "", createdAt: 0 };
  it("recurs by cron (UTC) for its duration", () => {
    const d: Downtime = {
      ...base,
      start: 0,
      end: 8.64e15,
      cron: "0 3 * * *",
      durationMs: 3_600_000,
    };
    expect(activeWindow(d, Date.parse("2026-12-02T03:30:00Z"))).toEqual({
      start: Date.parse("2026-12-02T03:00:00Z"),
      end: Date.parse("2026-12-02T04:00:00Z"),
    });
    expect(activeWindow(d, Date.parse("2026-12-02T04:00:00Z"))).toBeUndefined();
    expect(activeWindow(d, Date.parse("2026-12-02T02:59:59Z"))).toBeUndefined();
  });
  it("refuses bad input naming the field", () => {
    expect(() =>
      normaliseDowntime({ host: "web*", cron: "61 * * * *", durationMs: 1000 }, 0),
    ).toThrow(/^cron: /);
    expect(() => normaliseDowntime({ host: "web*", cron: "0 3 * * *" }, 0)).toThrow(
      /^durationMs: /,
    );
    expect(() => normaliseDowntime({ host: "web*", start: 10, end: 5 }, 0)).toThrow(/^end: /);
  });
});

describe("routing", () => {
  const root: RouteConfig = {
    match: {},
    receiver: "oncall",
    continue: false,
    escalate: [{ afterMs: 1000, receiver: "team" }],
    routes: [
      { match: { check: "postgres*" }, receiver: "dba", continue: true, escalate: [], routes: [] },
      { match: { host: "db*" }, continue: false, escalate: [], routes: [] },
    ],
  };
  it("picks the deepest matching routes, inheriting the receiver", () => {
    expect(routeAlert(root, alert({})).map((t) => t.receiver)).toEqual(["oncall"]);
    expect(routeAlert(root, alert({})).map((t) => t.escalate.length)).toEqual([1]);
    expect(
      routeAlert(root, alert({ check: "postgres_repl", jid: "db1@localhost", host: "db1" })).map(
        (t) => t.receiver,
      ),
    ).toEqual(["dba", "oncall"]);
  });
});

describe("messages and parents", () => {
  it("lists counts and the first names of a group", () => {
    const alerts = Array.from({ length: 12 }, (_, i) =>
      alert({ jid: `h${i}@localhost`, host: `h${i}`, num: i + 1 }),
    );
    const message = groupMessage(alerts, 3);
    expect(message).toBe(
      "PROBLEM: 12 hosts, 12 alerts: check http is CRITICAL: h0 [#1], h1 [#2], h2 [#3], … and 9 more",
    );
  });
  it("names parents by JID, a name without @ in the child's domain", () => {
    expect(parentJid("switch-r12", "web01@dc2.example.org")).toBe("switch-r12@dc2.example.org");
    expect(parentJid("core@example.org", "web01@dc2.example.org")).toBe("core@example.org");
  });
  it("carries depends in status presence, dropping bad names", () => {
    const presence = statusPresence(
      {
        host: "web01",
        version: "1",
        state: "ok",
        summary: "ok",
        dependsOn: ["switch-r12", "hv3@example.org"],
      },
      "monitor.localhost",
    );
    expect(parseStatusPresence(presence).status.dependsOn).toEqual([
      "switch-r12",
      "hv3@example.org",
    ]);
    presence.getChild("x")?.attr("depends", "ok <bad>");
    const parsed = parseStatusPresence(presence);
    expect(parsed.status.dependsOn).toEqual(["ok"]);
    expect(parsed.problems.join()).toMatch(/depends/);
  });
});

describe("AdminBot downtime", () => {
  it("parses downtime commands, keeping the comment's case without quotes", () => {
    expect(parseCommand("downtime web-* 2h 'Kernel upgrade'")).toEqual({
      kind: "downtime",
      pattern: "web-*",
      durationS: 7200,
      comment: "Kernel upgrade",
    });
    expect(parseCommand("downtimes")).toEqual({ kind: "downtimes" });
    expect(parseCommand("end downtime #4")).toEqual({ kind: "undowntime", id: 4 });
  });
});
