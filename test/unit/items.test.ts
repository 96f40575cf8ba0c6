import { describe, expect, it } from "vitest";
import { parsePayload } from "../../src/monitor/index.js";

describe("result payloads", () => {
  it("parses a check with metrics and labels", () => {
    const parsed = parsePayload(
      `<check xmlns="urn:jabmon:0" seq="7" time="2026-11-25T23:50:00.000Z" name="disk_var" state="critical" duration_ms="12"><output>DISK CRITICAL</output><metric name="/var" value="96" uom="%" warn="90" crit="95" min="0" max="100"/><label name="team" value="web"/></check>`,
      1,
    );
    expect(parsed).toEqual({
      item: {
        kind: "check",
        seq: 7,
        time: Date.parse("2026-11-25T23:50:00.000Z"),
        name: "disk_var",
        state: "critical",
        output: "DISK CRITICAL",
        durationMs: 12,
        passive: false,
        metrics: [{ name: "/var", value: 96, uom: "%", warn: 90, crit: 95, min: 0, max: 100 }],
        labels: { team: "web" },
      },
    });
  });

  it("reports what is wrong instead of throwing", () => {
    expect(parsePayload("<check", 1)).toHaveProperty("error");
    expect(parsePayload(`<check xmlns="urn:x" name="a" state="ok"/>`, 1)).toHaveProperty("error");
    expect(parsePayload(`<check xmlns="urn:jabmon:0" name="a" state="bad"/>`, 1)).toEqual({
      error: "check a: bad state bad",
    });
    expect(parsePayload(`<backup xmlns="urn:jabmon:0" job="db" status="meh"/>`, 1)).toHaveProperty(
      "error",
    );
  });

  it("uses the publish time when the payload has none", () => {
    const parsed = parsePayload(
      `<event xmlns="urn:jabmon:0" seq="1" type="log" severity="critical"><text>x</text></event>`,
      42,
    );
    expect(parsed).toMatchObject({
      item: { kind: "event", time: 42, severity: "critical", text: "x" },
    });
  });
});
