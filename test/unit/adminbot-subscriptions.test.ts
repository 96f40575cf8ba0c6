import { describe, expect, it } from "vitest";
import { parseCommand, phoneAlert } from "../../src/adminbot/index.js";

describe("alerts for a small screen", () => {
  it("puts a short summary first, then the detail, the host and how to acknowledge", () => {
    const text = phoneAlert({
      num: "42",
      kind: "check",
      jid: "db02@example.org",
      host: "db02.example.org",
      check: "disk_root",
      state: "critical",
      previous: "warning",
      text: "DISK CRITICAL - free space: / 812 MB (2%)",
    });
    expect(text.split("\n")).toEqual([
      "CRIT db02 disk_root #42",
      "DISK CRITICAL - free space: / 812 MB (2%)",
      "db02.example.org (db02@example.org)",
      'Reply "ack 42" to acknowledge.',
    ]);
  });

  it("gives recoveries no number and no ack hint, and marks reminders", () => {
    expect(phoneAlert({ num: "7", kind: "host", jid: "web01@x", state: "up", text: "" })).toBe(
      "UP web01\n(web01@x)",
    );
    const reminder = phoneAlert({
      num: "9",
      kind: "host",
      jid: "web01@x",
      host: "web01.x",
      state: "down",
      renotify: "2",
      text: "went offline",
    });
    expect(reminder.split("\n")[0]).toBe("REMINDER DOWN web01 #9");
  });

  it("cuts a long check output", () => {
    const text = phoneAlert({
      kind: "check",
      jid: "a@x",
      check: "c",
      state: "warning",
      text: "x".repeat(1000),
    });
    expect(text.split("\n")[1]).toHaveLength(280);
  });
});

describe("subscribe commands", () => {
  it.each([
    ["subscribe", "subscribe"],
    ["notify me", "subscribe"],
    ["Subscribe to alerts!", "subscribe"],
    ["unsubscribe", "unsubscribe"],
    ["stop alerts", "unsubscribe"],
    ["subscribe me to everything", "unknown"],
  ])("%s → %s", (input, kind) => {
    expect(parseCommand(input).kind).toBe(kind);
  });
});
