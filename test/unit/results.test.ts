import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { itemElement } from "../../src/agent/items.js";
import { parsePayload } from "../../src/monitor/ingest/items.js";
import {
  type BackupResult,
  type CheckResult,
  type EventResult,
  type Metric,
  parseNagiosRange,
  parseResult,
  RESULT_LIMITS,
  type Result,
  resultElement,
  violatesRange,
  xmlSafeText,
} from "../../src/protocol/index.js";

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
        metrics: [{ name: "/var", value: 96, uom: "%", warn: "90", crit: "95", min: 0, max: 100 }],
        labels: { team: "web" },
      },
    });
  });

  it("keeps the agent's Nagios range thresholds on the monitor's side", () => {
    const metric: Metric = { name: "temp", value: 15, warn: "10:20", crit: "@1:2", uom: "C" };
    const check: CheckResult = {
      kind: "check",
      name: "t",
      state: "ok",
      output: "",
      metrics: [metric],
    };
    const parsed = parsePayload(itemElement(check, 1, 0).toString(), 0);
    expect(parsed).toMatchObject({ item: { metrics: [metric] } });
  });

  it("drops a threshold that is not a Nagios range", () => {
    const parsed = parsePayload(
      `<check xmlns="urn:jabmon:0" name="a" state="ok"><metric name="m" value="1" warn="ten" crit="5:1"/></check>`,
      1,
    );
    expect(parsed).toMatchObject({ item: { metrics: [{ name: "m", value: 1 }] } });
    const [metric] = (parsed as { item: { metrics: Metric[] } }).item.metrics;
    expect(metric).not.toHaveProperty("warn");
    expect(metric).not.toHaveProperty("crit");
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

describe("Nagios ranges", () => {
  // The table of https://nagios-plugins.org/doc/guidelines.html#THRESHOLDFORMAT
  const cases: Array<[string, number[], number[]]> = [
    ["10", [-1, 11], [0, 5, 10]],
    ["10:", [9.9, -5], [10, 1e9]],
    ["~:10", [10.1], [-1e9, 10]],
    ["10:20", [9, 21], [10, 15, 20]],
    ["@10:20", [10, 15, 20], [9, 21]],
  ];
  for (const [text, alerting, quiet] of cases)
    it(`"${text}" alerts for ${alerting.join(", ")} and not for ${quiet.join(", ")}`, () => {
      const range = parseNagiosRange(text);
      expect(range).toBeDefined();
      for (const v of alerting) expect(violatesRange(range!, v)).toBe(true);
      for (const v of quiet) expect(violatesRange(range!, v)).toBe(false);
    });

  it("refuses what is not a range", () => {
    for (const text of ["", "ten", "20:10", "1:2:3", "@", "~", "1e", "0x10"])
      expect(parseNagiosRange(text)).toBeUndefined();
  });
});

// ---------------------------------------------------------------- round trips

const anyText = fc.string({ unit: "binary", maxLength: 40 });
const name = fc
  .tuple(fc.stringMatching(/^[a-z0-9]$/), fc.string({ unit: "binary", maxLength: 300 }))
  .map(([first, rest]) => first + rest);
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (v === 0 ? 0 : v));
const small = fc.integer({ min: -1000, max: 1000 });
const range = fc.oneof(
  fc.nat().map(String),
  fc.tuple(small, fc.nat()).map(([a, d]) => `${a}:${a + d}`),
  small.map((a) => `~:${a}`),
  small.map((a) => `${a}:`),
  fc.tuple(small, fc.nat()).map(([a, d]) => `@${a}:${a + d}`),
);
const metric: fc.Arbitrary<Metric> = fc.record(
  {
    name,
    value: finite,
    uom: fc.constantFrom("%", "s", "B", "KB", "c"),
    warn: range,
    crit: range,
    min: finite,
    max: finite,
  },
  { requiredKeys: ["name", "value"] },
);
const check: fc.Arbitrary<CheckResult> = fc.record(
  {
    kind: fc.constant("check" as const),
    name,
    state: fc.constantFrom("ok", "warning", "critical", "unknown"),
    output: fc.string({ unit: "binary", maxLength: 1500 }),
    longOutput: fc.string({ unit: "binary", minLength: 1, maxLength: 100 }),
    durationMs: fc.nat(),
    metrics: fc.array(metric, { maxLength: 4 }),
    labels: fc.dictionary(name, anyText, { maxKeys: 3 }),
    passive: fc.boolean(),
  },
  { requiredKeys: ["kind", "name", "state", "output", "metrics"] },
);
const event: fc.Arbitrary<EventResult> = fc.record(
  {
    kind: fc.constant("event" as const),
    type: fc.constantFrom("log", "file", "message", "spool-dropped"),
    severity: fc.constantFrom("info", "warning", "critical"),
    text: fc.string({ unit: "binary", maxLength: 5000 }),
    path: name,
    tag: name,
    change: fc.constantFrom("created", "modified", "deleted"),
    checksum: fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `sha256:${h}`),
    count: fc.nat(),
    suppressed: fc.integer({ min: 1 }),
  },
  { requiredKeys: ["kind", "type", "severity", "text"] },
);
const backup: fc.Arbitrary<BackupResult> = fc.record(
  {
    kind: fc.constant("backup" as const),
    job: name,
    status: fc.constantFrom("ok", "failed"),
    sizeBytes: fc.nat(),
    durationS: finite,
    message: fc.string({ unit: "binary", minLength: 1, maxLength: 100 }),
  },
  { requiredKeys: ["kind", "job", "status"] },
);

/** What the wire keeps of `item`: text made XML-safe and cut to the shared limits. */
function asReceived(item: Result, seq: number, time: number): Record<string, unknown> {
  const t = (v: string | undefined, max: number) =>
    v === undefined ? undefined : xmlSafeText(v, max);
  const drop = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ""));
  switch (item.kind) {
    case "check":
      return drop({
        ...item,
        seq,
        time,
        name: t(item.name, RESULT_LIMITS.name),
        output: t(item.output, RESULT_LIMITS.output) || undefined,
        longOutput: t(item.longOutput, RESULT_LIMITS.longOutput),
        passive: item.passive ?? false,
        metrics: item.metrics.map((m) => drop({ ...m, name: t(m.name, RESULT_LIMITS.name) })),
        labels: Object.fromEntries(
          Object.entries(item.labels ?? {}).map(([k, v]) => [
            t(k, RESULT_LIMITS.name),
            t(v, RESULT_LIMITS.label),
          ]),
        ),
      });
    case "event":
      return drop({
        ...item,
        seq,
        time,
        text: t(item.text, RESULT_LIMITS.text) || undefined,
        path: t(item.path, RESULT_LIMITS.path),
        tag: t(item.tag, RESULT_LIMITS.name),
        suppressed: item.suppressed || undefined,
      });
    case "backup":
      return drop({
        ...item,
        seq,
        time,
        job: t(item.job, RESULT_LIMITS.name),
        message: t(item.message, RESULT_LIMITS.text),
      });
  }
}

describe("the results codec round trip", () => {
  const stamp = fc.record({
    seq: fc.nat(),
    time: fc.integer({ min: 0, max: Date.parse("9999-12-31T23:59:59.999Z") }),
  });
  const withDefaults = (o: Record<string, unknown>) =>
    o.kind === "check" ? { output: "", ...o } : o.kind === "event" ? { text: "", ...o } : o;

  for (const [kind, arbitrary] of [
    ["check", check],
    ["event", event],
    ["backup", backup],
  ] as const)
    it(`reads back every ${kind} the agent builds`, () => {
      fc.assert(
        fc.property(arbitrary as fc.Arbitrary<Result>, stamp, (item, { seq, time }) => {
          const xml = resultElement(item, seq, time).toString();
          const parsed = parseResult(xml, -1);
          expect(parsed).toEqual({ item: withDefaults(asReceived(item, seq, time)) });
        }),
        { numRuns: 300 },
      );
    });
});
