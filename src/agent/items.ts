/**
 * Result items the agent publishes (docs/protocol.md, "Results"): `<check/>`,
 * `<event/>` and `<backup/>` in urn:jabmon:0, each with the agent's `seq` and
 * the `time` it was measured. Built once, serialised into the spool, and
 * parsed back only when published.
 */
import type { HostState } from "../protocol/index.js";
import { NS_JABMON } from "../protocol/index.js";
import { type Element, el } from "../xmpp/index.js";

export interface Metric {
  name: string;
  value: number;
  uom?: string;
  /** Nagios ranges are kept as written ("10", "10:20", "~:5", "@1:2"). */
  warn?: string;
  crit?: string;
  min?: number;
  max?: number;
}

export interface CheckItem {
  kind: "check";
  name: string;
  state: HostState;
  output: string;
  longOutput?: string;
  durationMs: number;
  metrics: Metric[];
  labels?: Record<string, string>;
  passive?: boolean;
}

export type EventType = "log" | "file" | "message" | "spool-dropped";
export type Severity = "info" | "warning" | "critical";

export interface EventItem {
  kind: "event";
  type: EventType;
  severity: Severity;
  text: string;
  path?: string;
  tag?: string;
  change?: "created" | "modified" | "deleted";
  checksum?: string;
  count?: number;
  suppressed?: number;
}

export interface BackupItem {
  kind: "backup";
  job: string;
  status: "ok" | "failed";
  sizeBytes?: number;
  durationS?: number;
  message?: string;
}

export type Item = CheckItem | EventItem | BackupItem;

// XML 1.0 forbids most control characters even escaped; a log line may carry them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
export const clean = (text: string, max = 4096): string =>
  (text.length > max ? `${text.slice(0, max)}…` : text).replace(CONTROL, "");

function metricElement(m: Metric): Element {
  return el("metric", {
    name: clean(m.name, 256),
    value: m.value,
    uom: m.uom || undefined,
    warn: m.warn || undefined,
    crit: m.crit || undefined,
    min: m.min,
    max: m.max,
  });
}

/** The payload element for `item`, stamped with its sequence number and time. */
export function itemElement(item: Item, seq: number, timeMs: number): Element {
  const time = new Date(timeMs).toISOString();
  switch (item.kind) {
    case "check":
      return el(
        "check",
        {
          xmlns: NS_JABMON,
          seq,
          time,
          name: clean(item.name, 256),
          state: item.state,
          duration_ms: Math.round(item.durationMs),
          passive: item.passive ? "true" : undefined,
        },
        el("output", {}, clean(item.output, 1024)),
        item.longOutput ? el("long-output", {}, clean(item.longOutput, 8192)) : undefined,
        ...item.metrics.map(metricElement),
        ...Object.entries(item.labels ?? {}).map(([name, value]) =>
          el("label", { name: clean(name, 256), value: clean(value, 1024) }),
        ),
      );
    case "event":
      return el(
        "event",
        {
          xmlns: NS_JABMON,
          seq,
          time,
          type: item.type,
          severity: item.severity,
          path: item.path === undefined ? undefined : clean(item.path, 4096),
          tag: item.tag === undefined ? undefined : clean(item.tag, 256),
          change: item.change,
          checksum: item.checksum,
          count: item.count,
          suppressed: item.suppressed || undefined,
        },
        el("text", {}, clean(item.text)),
      );
    case "backup":
      return el(
        "backup",
        {
          xmlns: NS_JABMON,
          seq,
          time,
          job: clean(item.job, 256),
          status: item.status,
          size_bytes: item.sizeBytes,
          duration_s: item.durationS,
        },
        item.message ? el("message", {}, clean(item.message, 4096)) : undefined,
      );
  }
}
