import { describe, expect, it } from "vitest";
import { alertLine, formatSilences } from "../../src/adminbot/index.js";
import { acknowledgedProblemKeys } from "../../src/monitor/alerts/problems.js";
import { alertMessage } from "../../src/monitor/alerts/record.js";
import {
  type AlertRecord,
  ackTarget,
  problemKey,
  type Silence,
  silenceMatches,
} from "../../src/monitor/index.js";
import { parseSilencePattern, type RpcStruct, sortAlerts } from "../../src/rpc/index.js";

const alert = (over: Partial<AlertRecord> = {}): AlertRecord => ({
  id: "a",
  kind: "host",
  jid: "web01@example.org",
  host: "web01.dc2.example.org",
  check: "",
  state: "down",
  previous: "up",
  text: "went offline",
  time: 1_000,
  ...over,
});

const silence = (host: string, check = "*"): Silence => ({
  id: "1",
  host,
  check,
  comment: "",
  createdBy: "",
  createdAt: 0,
  expiresAt: Date.now() + 60_000,
});

describe("silence patterns", () => {
  it("reads a host glob, or host/check", () => {
    expect(parseSilencePattern("web*")).toEqual({ host: "web*", check: "*" });
    expect(parseSilencePattern(" web*/disk* ")).toEqual({ host: "web*", check: "disk*" });
  });

  it("refuses an empty, spaced or overlong pattern, naming the parameter", () => {
    for (const bad of ["", "/disk", "web*/", "web 01", "x".repeat(201)])
      expect(() => parseSilencePattern(bad)).toThrow(/parameter 'pattern' \(1\)/);
  });

  it("matches the bare JID, its local part, the host name and its first label, as hosts.list", () => {
    const a = alert();
    for (const glob of ["web*", "web01", "web01@example.org", "*@example.org", "*.dc2.*"])
      expect(silenceMatches(silence(glob), a), glob).toBe(true);
    for (const glob of ["db*", "web02", "example.org"])
      expect(silenceMatches(silence(glob), a), glob).toBe(false);
  });

  it("with a check glob, silences only those checks, not the host's down alert", () => {
    const s = silence("web*", "disk*");
    expect(silenceMatches(s, alert({ kind: "check", check: "disk_root", state: "critical" }))).toBe(
      true,
    );
    expect(silenceMatches(s, alert({ kind: "check", check: "http", state: "critical" }))).toBe(
      false,
    );
    expect(silenceMatches(s, alert())).toBe(false);
  });

  it("an expired silence matches nothing", () => {
    expect(silenceMatches({ ...silence("web*"), expiresAt: Date.now() - 1 }, alert())).toBe(false);
  });
});

describe("alert numbers and problems", () => {
  it("a numbered problem's message ends with its number; a recovery's does not", () => {
    expect(alertMessage(alert({ num: 42 }))).toBe(
      "PROBLEM: host web01.dc2.example.org (web01@example.org) is DOWN: went offline [#42]",
    );
    expect(alertMessage(alert({ num: 43, state: "up", previous: "down", text: "" }))).toBe(
      "RECOVERY: host web01.dc2.example.org (web01@example.org) is UP again",
    );
    expect(alertMessage(alert())).not.toMatch(/\[#/);
  });

  it("a check's alerts and its flapping share one problem; host and score are separate", () => {
    const check = problemKey(alert({ kind: "check", check: "db" }));
    expect(problemKey(alert({ kind: "flapping", check: "db" }))).toBe(check);
    expect(problemKey(alert({ kind: "check", check: "http" }))).not.toBe(check);
    expect(problemKey(alert({ jid: "WEB01@example.org" }))).toBe(problemKey(alert()));
    expect(problemKey(alert({ kind: "score" }))).not.toBe(problemKey(alert()));
  });

  it("an acknowledgement covers exactly the problems whose alerts it suppresses", () => {
    const alerts = [
      alert(),
      alert({ kind: "score", state: "critical" }),
      alert({ kind: "check", check: "db" }),
      alert({ kind: "flapping", check: "db", state: "start" }),
      alert({ kind: "backup", check: "nightly", state: "failed" }),
      alert({ kind: "nagios", check: "" }),
      alert({ kind: "nagios", check: "http" }),
    ];
    for (const a of alerts)
      expect(acknowledgedProblemKeys("WEB01@example.org", ackTarget(a)), a.kind).toContain(
        problemKey(a),
      );
    expect(acknowledgedProblemKeys("web01@example.org", "")).not.toContain(
      problemKey(alert({ kind: "check", check: "db" })),
    );
    expect(acknowledgedProblemKeys("web01@example.org", "db")).not.toContain(problemKey(alert()));
  });

  it("sorts open alerts worst first, then newest first", () => {
    const at = (state: string, time: number): RpcStruct => ({
      id: time,
      state,
      time: new Date(time),
    });
    const sorted = sortAlerts([
      at("warning", 5),
      at("critical", 1),
      at("down", 2),
      at("critical", 3),
      at("start", 4),
    ]);
    expect(sorted.map((a) => `${a.state}@${a.id}`)).toEqual([
      "down@2",
      "critical@3",
      "critical@1",
      "start@4",
      "warning@5",
    ]);
  });
});

describe("AdminBot lines for alerts and silences", () => {
  const now = new Date(100_000);
  it("shows number, state, host, check, age and flags", () => {
    expect(
      alertLine(
        {
          id: 7,
          kind: "check",
          jid: "db01@example.org",
          host: "db01",
          check: "disk_root",
          state: "critical",
          text: "disk / 97%",
          since: new Date(40_000),
          acknowledged: true,
          ackBy: "alice@example.org",
          ackComment: "on it",
          silenced: true,
          silenceId: 3,
        },
        now,
      ),
    ).toBe(
      "#7 CRIT db01 disk_root: disk / 97%, 1m [acked by alice@example.org: on it; silenced #3]",
    );
  });

  it("shows a silence with its time left", () => {
    expect(
      formatSilences(
        [
          {
            id: 3,
            pattern: "web*",
            comment: "deploy",
            createdBy: "alice@example.org",
            expiresAt: new Date(now.getTime() + 7_140_000),
          },
        ],
        now,
      ),
    ).toBe("#3 web* for 1h59m more: deploy (alice@example.org)");
    expect(formatSilences([], now)).toBe("No active silences.");
  });
});
