import { describe, expect, it } from "vitest";
import {
  parsePerfdata,
  parsePluginOutput,
  runPlugin,
  stateForExit,
} from "../../src/agent/index.js";

describe("parsePerfdata", () => {
  it("reads value, unit, thresholds, min and max", () => {
    expect(parsePerfdata("load1=0.120;5.000;10.000;0; time=12ms;;;0;")).toEqual([
      { name: "load1", value: 0.12, warn: "5.000", crit: "10.000", min: 0 },
      { name: "time", value: 12, uom: "ms", min: 0 },
    ]);
  });

  it("reads quoted labels with spaces and doubled quotes", () => {
    expect(parsePerfdata("'/var/lib x'=96%;90;95;0;100 'it''s'=3c")).toEqual([
      { name: "/var/lib x", value: 96, uom: "%", warn: "90", crit: "95", min: 0, max: 100 },
      { name: "it's", value: 3, uom: "c" },
    ]);
  });

  it("keeps Nagios ranges as written and tolerates missing fields", () => {
    expect(parsePerfdata("a=1;@10:20;~:5 b=2;;; c=3")).toEqual([
      { name: "a", value: 1, warn: "@10:20", crit: "~:5" },
      { name: "b", value: 2 },
      { name: "c", value: 3 },
    ]);
  });

  it("skips malformed entries and unknown values, keeps the rest", () => {
    expect(parsePerfdata("garbage x=U;1;2 =5 'open=1 ok=7KB")).toEqual([]);
    expect(parsePerfdata("garbage x=U;1;2 =5 ok=7KB")).toEqual([
      { name: "ok", value: 7, uom: "KB" },
    ]);
    expect(parsePerfdata("")).toEqual([]);
  });
});

describe("parsePluginOutput", () => {
  it("splits status text, long output and multi-line perfdata", () => {
    expect(
      parsePluginOutput(
        "DISK OK - free space | /=10%;80;90\nline two\nline three | /var=20%\n/home=30%\n",
      ),
    ).toEqual({
      output: "DISK OK - free space",
      longOutput: "line two\nline three",
      metrics: [
        { name: "/", value: 10, uom: "%", warn: "80", crit: "90" },
        { name: "/var", value: 20, uom: "%" },
        { name: "/home", value: 30, uom: "%" },
      ],
    });
  });
});

describe("stateForExit", () => {
  it("maps 0..3 and calls anything else unknown", () => {
    expect([0, 1, 2, 3, 4, 127, null].map(stateForExit)).toEqual([
      "ok",
      "warning",
      "critical",
      "unknown",
      "unknown",
      "unknown",
      "unknown",
    ]);
  });
});

describe("runPlugin", () => {
  const base = { timeoutMs: 5000, maxOutputBytes: 1024 };

  it("runs Debian's check_disk with arguments and no shell", async () => {
    const r = await runPlugin({
      ...base,
      command: "/usr/lib/nagios/plugins/check_disk",
      args: ["-w", "1%", "-c", "1%", "-p", "/"],
    });
    expect(["ok", "warning", "critical"]).toContain(r.state);
    expect(r.output).toMatch(/^DISK /);
    expect(r.metrics[0]).toMatchObject({ name: "/", uom: "B" });
  });

  it("maps check_procs' exit code to a state", async () => {
    const r = await runPlugin({
      ...base,
      command: "/usr/lib/nagios/plugins/check_procs",
      args: ["-c", "0:0"],
    });
    expect(r.state).toBe("critical");
  });

  it("kills a plugin that hangs at its timeout, with its children, and says unknown", async () => {
    const started = Date.now();
    const r = await runPlugin({
      ...base,
      timeoutMs: 300,
      command: "/bin/sh",
      args: ["-c", "sleep 30 & sleep 30"],
    });
    expect(r).toMatchObject({ state: "unknown", output: "plugin timed out after 0.3 s" });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("truncates a plugin that prints megabytes", async () => {
    const r = await runPlugin({
      ...base,
      command: "/bin/sh",
      args: ["-c", "echo 'BIG OK'; head -c 5000000 /dev/zero | tr '\\0' x; exit 1"],
    });
    expect(r.state).toBe("warning");
    expect(r.output).toBe("BIG OK (output truncated at 1024 bytes)");
    expect((r.longOutput ?? "").length).toBeLessThanOrEqual(1024);
  });

  it("says unknown when the plugin cannot be run", async () => {
    const r = await runPlugin({ ...base, command: "/nonexistent/check_x", args: [] });
    expect(r).toMatchObject({ state: "unknown", output: expect.stringContaining("ENOENT") });
  });
});
