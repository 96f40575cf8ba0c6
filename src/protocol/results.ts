/**
 * Result items (docs/protocol.md, "Results"): `<check/>`, `<event/>` and
 * `<backup/>` in urn:jabmon:0, each with the agent's `seq` and the `time` it
 * was measured. The one codec of the wire format: the agent builds items with
 * `resultElement`, the monitor reads them with `parseResult`, so the two sides
 * cannot drift apart.
 *
 * Thresholds stay Nagios ranges as written ("10", "10:20", "~:5", "@1:2") on
 * both sides; `parseNagiosRange` and `violatesRange` interpret them
 * (https://nagios-plugins.org/doc/guidelines.html#THRESHOLDFORMAT).
 */
import ltx, { type Element, el } from "../xmpp/ltx.js";
import { stripXmlInvalid } from "../xmpp/text.js";
import { NS_JABMON } from "./ns.js";
import { HOST_STATES, type HostState } from "./presence.js";

export interface Metric {
  name: string;
  value: number;
  uom?: string;
  /** Nagios ranges, kept as written. */
  warn?: string;
  crit?: string;
  min?: number;
  max?: number;
}

export interface CheckResult {
  kind: "check";
  name: string;
  state: HostState;
  output: string;
  longOutput?: string;
  durationMs?: number;
  metrics: Metric[];
  labels?: Record<string, string>;
  /** Sent by a script through the agent, not scheduled by it. */
  passive?: boolean;
}

export type EventType = "log" | "file" | "message" | "spool-dropped";
export type Severity = "info" | "warning" | "critical";
const SEVERITIES: readonly Severity[] = ["info", "warning", "critical"];

export interface EventResult {
  kind: "event";
  /** One of EventType from our agent; other agents may send other types. */
  type: EventType | (string & {});
  severity: Severity;
  text: string;
  path?: string;
  tag?: string;
  change?: "created" | "modified" | "deleted";
  checksum?: string;
  count?: number;
  suppressed?: number;
}

export interface BackupResult {
  kind: "backup";
  job: string;
  status: "ok" | "failed";
  sizeBytes?: number;
  durationS?: number;
  message?: string;
}

export type Result = CheckResult | EventResult | BackupResult;

/** A result as read off the wire: with the agent's seq and its measurement time (ms). */
export type Stamped<T extends Result = Result> = T & { seq: number; time: number };
export type ParsedResult = { item: Stamped } | { error: string };

/** Longest text kept per field; the builder and the parser apply the same bounds. */
export const RESULT_LIMITS = {
  name: 256,
  output: 1024,
  longOutput: 8192,
  text: 4096,
  path: 4096,
  label: 1024,
  eventType: 64,
} as const;

/** `text` cut to at most `max` characters (the cut marked with …) and made safe for XML. */
export const xmlSafeText = (text: string, max: number = RESULT_LIMITS.text): string =>
  stripXmlInvalid(text.length > max ? `${text.slice(0, max - 1)}…` : text);

// ---------------------------------------------------------------- ranges

export interface NagiosRange {
  start: number;
  end: number;
  /** `@`: alert when the value is inside the range instead of outside. */
  inside: boolean;
}

const RANGE_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A Nagios threshold range, or undefined when `text` is not one. */
export function parseNagiosRange(text: string): NagiosRange | undefined {
  let rest = text.trim();
  const inside = rest.startsWith("@");
  if (inside) rest = rest.slice(1);
  const colon = rest.indexOf(":");
  const startText = colon < 0 ? "0" : rest.slice(0, colon);
  const endText = colon < 0 ? rest : rest.slice(colon + 1);
  const start = startText === "~" ? Number.NEGATIVE_INFINITY : toNumber(startText);
  const end = endText === "" && colon >= 0 ? Number.POSITIVE_INFINITY : toNumber(endText);
  if (start === undefined || end === undefined || start > end) return undefined;
  return { start, end, inside };
}

const toNumber = (text: string): number | undefined =>
  RANGE_NUMBER.test(text) ? Number(text) : undefined;

/** Whether `value` raises an alert for `range` (outside it, or inside it with `@`). */
export function violatesRange(range: NagiosRange, value: number): boolean {
  const within = value >= range.start && value <= range.end;
  return range.inside ? within : !within;
}

/**
 * The single number a range alerts beyond, for rules that compare a value to
 * its threshold: the end of the range when finite, else its start; undefined
 * for a range open on both sides.
 */
export function rangeBound(range: NagiosRange): number | undefined {
  if (Number.isFinite(range.end)) return range.end;
  return Number.isFinite(range.start) ? range.start : undefined;
}

// ---------------------------------------------------------------- building

function metricElement(m: Metric): Element {
  return el("metric", {
    name: xmlSafeText(m.name, RESULT_LIMITS.name),
    value: m.value,
    uom: m.uom || undefined,
    warn: m.warn || undefined,
    crit: m.crit || undefined,
    min: m.min,
    max: m.max,
  });
}

/** The payload element for `item`, stamped with its sequence number and time. */
export function resultElement(item: Result, seq: number, timeMs: number): Element {
  const time = new Date(timeMs).toISOString();
  switch (item.kind) {
    case "check":
      return el(
        "check",
        {
          xmlns: NS_JABMON,
          seq,
          time,
          name: xmlSafeText(item.name, RESULT_LIMITS.name),
          state: item.state,
          duration_ms: item.durationMs === undefined ? undefined : Math.round(item.durationMs),
          passive: item.passive ? "true" : undefined,
        },
        el("output", {}, xmlSafeText(item.output, RESULT_LIMITS.output)),
        item.longOutput
          ? el("long-output", {}, xmlSafeText(item.longOutput, RESULT_LIMITS.longOutput))
          : undefined,
        ...item.metrics.map(metricElement),
        ...Object.entries(item.labels ?? {}).map(([name, value]) =>
          el("label", {
            name: xmlSafeText(name, RESULT_LIMITS.name),
            value: xmlSafeText(value, RESULT_LIMITS.label),
          }),
        ),
      );
    case "event":
      return el(
        "event",
        {
          xmlns: NS_JABMON,
          seq,
          time,
          type: xmlSafeText(item.type, RESULT_LIMITS.eventType),
          severity: item.severity,
          path: item.path === undefined ? undefined : xmlSafeText(item.path, RESULT_LIMITS.path),
          tag: item.tag === undefined ? undefined : xmlSafeText(item.tag, RESULT_LIMITS.name),
          change: item.change,
          checksum: item.checksum,
          count: item.count,
          suppressed: item.suppressed || undefined,
        },
        el("text", {}, xmlSafeText(item.text)),
      );
    case "backup":
      return el(
        "backup",
        {
          xmlns: NS_JABMON,
          seq,
          time,
          job: xmlSafeText(item.job, RESULT_LIMITS.name),
          status: item.status,
          size_bytes: item.sizeBytes,
          duration_s: item.durationS,
        },
        item.message ? el("message", {}, xmlSafeText(item.message, RESULT_LIMITS.text)) : undefined,
      );
  }
}

// ---------------------------------------------------------------- parsing

type Attrs = Record<string, string | undefined>;

const num = (v: string | undefined): number | undefined => {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};
const childText = (e: Element, name: string, max: number) => e.getChildText(name)?.slice(0, max);
const range = (v: string | undefined): string | undefined =>
  v !== undefined && parseNagiosRange(v) ? v : undefined;

/**
 * Read one payload. A payload that cannot be understood is reported, never
 * thrown: the monitor must still advance past it to keep the agent's order.
 * Unknown optional attributes and children are ignored (forward compatible).
 */
export function parseResult(xml: string, publishedAt: number): ParsedResult {
  let root: Element;
  try {
    root = ltx.parse(xml) as Element;
  } catch (err) {
    return { error: `not XML: ${(err as Error).message}` };
  }
  if (root.attrs.xmlns !== NS_JABMON) return { error: `not in ${NS_JABMON}: <${root.name}>` };
  const a = root.attrs as Attrs;
  const parsedTime = a.time ? Date.parse(a.time) : Number.NaN;
  const stamp = {
    seq: num(a.seq) ?? 0,
    time: Number.isFinite(parsedTime) ? parsedTime : publishedAt,
  };
  switch (root.name) {
    case "check":
      return parseCheck(root, a, stamp);
    case "event":
      return parseEvent(root, a, stamp);
    case "backup":
      return parseBackup(root, a, stamp);
    default:
      return { error: `unknown payload <${root.name}>` };
  }
}

type Stamp = { seq: number; time: number };

function parseMetric(m: Element): Metric | undefined {
  const a = m.attrs as Attrs;
  const value = num(a.value);
  if (!a.name || value === undefined) return undefined;
  const metric: Metric = { name: a.name.slice(0, RESULT_LIMITS.name), value };
  if (a.uom) metric.uom = a.uom;
  const warn = range(a.warn);
  if (warn !== undefined) metric.warn = warn;
  const crit = range(a.crit);
  if (crit !== undefined) metric.crit = crit;
  const min = num(a.min);
  if (min !== undefined) metric.min = min;
  const max = num(a.max);
  if (max !== undefined) metric.max = max;
  return metric;
}

function parseCheck(root: Element, a: Attrs, stamp: Stamp): ParsedResult {
  if (!a.name) return { error: "check without a name" };
  const state = HOST_STATES.find((s) => s === a.state);
  if (!state) return { error: `check ${a.name}: bad state ${a.state}` };
  const metrics = root.getChildren("metric").flatMap((m) => parseMetric(m) ?? []);
  const labels: Record<string, string> = {};
  for (const l of root.getChildren("label"))
    if (l.attrs.name)
      labels[String(l.attrs.name).slice(0, RESULT_LIMITS.name)] = String(l.attrs.value ?? "").slice(
        0,
        RESULT_LIMITS.label,
      );
  const item: Stamped<CheckResult> = {
    kind: "check",
    ...stamp,
    name: a.name.slice(0, RESULT_LIMITS.name),
    state,
    output: childText(root, "output", RESULT_LIMITS.output) ?? "",
    passive: a.passive === "true",
    metrics,
    labels,
  };
  const longOutput = childText(root, "long-output", RESULT_LIMITS.longOutput);
  if (longOutput) item.longOutput = longOutput;
  const durationMs = num(a.duration_ms);
  if (durationMs !== undefined) item.durationMs = durationMs;
  return { item };
}

const CHANGES = ["created", "modified", "deleted"] as const;

function parseEvent(root: Element, a: Attrs, stamp: Stamp): ParsedResult {
  const item: Stamped<EventResult> = {
    kind: "event",
    ...stamp,
    type: (a.type ?? "message").slice(0, RESULT_LIMITS.eventType),
    severity: SEVERITIES.find((s) => s === a.severity) ?? "info",
    text: childText(root, "text", RESULT_LIMITS.text) ?? "",
  };
  if (a.path) item.path = a.path.slice(0, RESULT_LIMITS.path);
  if (a.tag) item.tag = a.tag.slice(0, RESULT_LIMITS.name);
  const change = CHANGES.find((c) => c === a.change);
  if (change) item.change = change;
  if (a.checksum) item.checksum = a.checksum.slice(0, RESULT_LIMITS.name);
  const count = num(a.count);
  if (count !== undefined) item.count = count;
  const suppressed = num(a.suppressed);
  if (suppressed !== undefined) item.suppressed = suppressed;
  return { item };
}

function parseBackup(root: Element, a: Attrs, stamp: Stamp): ParsedResult {
  if (!a.job) return { error: "backup without a job" };
  if (a.status !== "ok" && a.status !== "failed")
    return { error: `backup ${a.job}: bad status ${a.status}` };
  const item: Stamped<BackupResult> = {
    kind: "backup",
    ...stamp,
    job: a.job.slice(0, RESULT_LIMITS.name),
    status: a.status,
  };
  const sizeBytes = num(a.size_bytes);
  if (sizeBytes !== undefined) item.sizeBytes = sizeBytes;
  const durationS = num(a.duration_s);
  if (durationS !== undefined) item.durationS = durationS;
  const message = childText(root, "message", RESULT_LIMITS.text);
  if (message) item.message = message;
  return { item };
}
