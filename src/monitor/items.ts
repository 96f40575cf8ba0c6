/**
 * Parse the urn:jabmon:0 payloads of published items (docs/protocol.md,
 * "Results") into plain records. A payload that cannot be understood is
 * reported, never thrown: the monitor must still advance past it to keep the
 * agent's order.
 */
import { NS_JABMON } from "../protocol/index.js";
import { type Element, ltx } from "../xmpp/index.js";

export const CHECK_STATES = ["ok", "warning", "critical", "unknown"] as const;
export type CheckState = (typeof CHECK_STATES)[number];

export interface Metric {
  name: string;
  value: number;
  uom?: string;
  warn?: number;
  crit?: number;
  min?: number;
  max?: number;
}

interface Common {
  seq: number;
  /** Measurement time (ms); the publish time when the payload had none. */
  time: number;
}

export interface CheckItem extends Common {
  kind: "check";
  name: string;
  state: CheckState;
  output: string;
  longOutput?: string;
  durationMs?: number;
  passive: boolean;
  metrics: Metric[];
  labels: Record<string, string>;
}

export interface EventItem extends Common {
  kind: "event";
  type: string;
  severity: "info" | "warning" | "critical";
  text: string;
  path?: string;
  tag?: string;
  change?: string;
  checksum?: string;
  count?: number;
  suppressed?: number;
}

export interface BackupItem extends Common {
  kind: "backup";
  job: string;
  status: "ok" | "failed";
  sizeBytes?: number;
  durationS?: number;
  message?: string;
}

export type ResultItem = CheckItem | EventItem | BackupItem;
export type ParsedItem = { item: ResultItem } | { error: string };

const MAX_TEXT = 4096;
const num = (v: string | undefined): number | undefined => {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};
const text = (e: Element, name: string) => e.getChildText(name)?.slice(0, MAX_TEXT);

export function parsePayload(xml: string, publishedAt: number): ParsedItem {
  let root: Element;
  try {
    root = ltx.parse(xml) as Element;
  } catch (err) {
    return { error: `not XML: ${(err as Error).message}` };
  }
  if (root.attrs.xmlns !== NS_JABMON) return { error: `not in ${NS_JABMON}: <${root.name}>` };
  const a = root.attrs as Record<string, string | undefined>;
  const seq = num(a.seq) ?? 0;
  const parsedTime = a.time ? Date.parse(a.time) : Number.NaN;
  const time = Number.isFinite(parsedTime) ? parsedTime : publishedAt;
  switch (root.name) {
    case "check": {
      if (!a.name) return { error: "check without a name" };
      const state = a.state as CheckState;
      if (!CHECK_STATES.includes(state)) return { error: `check ${a.name}: bad state ${a.state}` };
      const metrics: Metric[] = [];
      for (const m of root.getChildren("metric")) {
        const value = num(m.attrs.value);
        if (!m.attrs.name || value === undefined) continue;
        const metric: Metric = { name: String(m.attrs.name), value };
        if (m.attrs.uom) metric.uom = String(m.attrs.uom);
        for (const k of ["warn", "crit", "min", "max"] as const) {
          const v = num(m.attrs[k]);
          if (v !== undefined) metric[k] = v;
        }
        metrics.push(metric);
      }
      const labels: Record<string, string> = {};
      for (const l of root.getChildren("label"))
        if (l.attrs.name) labels[String(l.attrs.name)] = String(l.attrs.value ?? "");
      const item: CheckItem = {
        kind: "check",
        seq,
        time,
        name: a.name.slice(0, 200),
        state,
        output: text(root, "output") ?? "",
        passive: a.passive === "true",
        metrics,
        labels,
      };
      const longOutput = text(root, "long-output");
      if (longOutput) item.longOutput = longOutput;
      const durationMs = num(a.duration_ms);
      if (durationMs !== undefined) item.durationMs = durationMs;
      return { item };
    }
    case "event": {
      const severity = (["info", "warning", "critical"] as const).find((s) => s === a.severity);
      const item: EventItem = {
        kind: "event",
        seq,
        time,
        type: (a.type ?? "message").slice(0, 64),
        severity: severity ?? "info",
        text: text(root, "text") ?? "",
      };
      for (const k of ["path", "tag", "change", "checksum"] as const) if (a[k]) item[k] = a[k];
      const count = num(a.count);
      if (count !== undefined) item.count = count;
      const suppressed = num(a.suppressed);
      if (suppressed !== undefined) item.suppressed = suppressed;
      return { item };
    }
    case "backup": {
      if (!a.job) return { error: "backup without a job" };
      if (a.status !== "ok" && a.status !== "failed")
        return { error: `backup ${a.job}: bad status ${a.status}` };
      const item: BackupItem = { kind: "backup", seq, time, job: a.job, status: a.status };
      const sizeBytes = num(a.size_bytes);
      if (sizeBytes !== undefined) item.sizeBytes = sizeBytes;
      const durationS = num(a.duration_s);
      if (durationS !== undefined) item.durationS = durationS;
      const message = text(root, "message");
      if (message) item.message = message;
      return { item };
    }
    default:
      return { error: `unknown payload <${root.name}>` };
  }
}
