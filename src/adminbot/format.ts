/**
 * RPC answers as text a person reads in a chat window: short lines, worst
 * first. Pure: no I/O, unit-tested.
 */
import type { RpcStruct, RpcValue } from "../rpc/index.js";
import { COMMAND_HELP } from "./parse.js";

const RANK: Record<string, number> = { down: 0, critical: 1, warning: 2, unknown: 3, ok: 4 };
const LABEL: Record<string, string> = {
  down: "DOWN",
  critical: "CRIT",
  warning: "WARN",
  unknown: "UNKN",
  ok: "OK",
};
/** Lines of one answer; a longer list ends with "… and N more". */
export const MAX_LINES = 15;

export interface HostView {
  jid: string;
  host: string;
  online: boolean;
  state: string;
  /** What decided the state (the status model's words). */
  summary: string;
  status: string;
  since?: Date;
  lastSeen?: Date;
  offlineReason?: string;
}

export function asHost(value: RpcValue): HostView {
  const s = value as RpcStruct;
  return {
    jid: String(s.jid ?? ""),
    host: String(s.host ?? s.jid ?? ""),
    online: s.online === true,
    state: String(s.state ?? "unknown"),
    summary: String(s.summary ?? ""),
    status: String(s.status ?? ""),
    since: s.since instanceof Date ? s.since : undefined,
    lastSeen: s.lastSeen instanceof Date ? s.lastSeen : undefined,
    offlineReason: typeof s.offlineReason === "string" ? s.offlineReason : undefined,
  };
}

/** "45s", "12m", "3h", "5d". */
export function ago(then: Date | undefined, now: Date): string {
  if (!then || then.getTime() <= 0) return "";
  const s = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function durationText(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

const shortName = (h: HostView) => h.jid.split("@")[0] || h.host;

/** Worst first, then by name. */
export function sortWorstFirst(hosts: HostView[]): HostView[] {
  return [...hosts].sort(
    (a, b) =>
      (RANK[a.state] ?? 3) - (RANK[b.state] ?? 3) || shortName(a).localeCompare(shortName(b)),
  );
}

export function hostLine(h: HostView, now: Date): string {
  const label = LABEL[h.state] ?? h.state.toUpperCase();
  if (h.state === "down") {
    const since = ago(h.since, now);
    return `${label} ${shortName(h)}: ${h.offlineReason || "offline"}${since ? ` ${since} ago` : ""}`;
  }
  return `${label} ${shortName(h)}: ${h.summary || h.status || "no status"}`;
}

/** At most MAX_LINES lines; `total`: how many the whole list has when `lines` is its first page. */
function capped(lines: string[], total = lines.length): string[] {
  if (total <= MAX_LINES && lines.length === total) return lines;
  const shown = lines.slice(0, MAX_LINES - 1);
  return [...shown, `… and ${total - shown.length} more`];
}

function counts(hosts: HostView[]): string {
  const by = new Map<string, number>();
  for (const h of hosts) by.set(h.state, (by.get(h.state) ?? 0) + 1);
  return Object.keys(RANK)
    .filter((s) => by.has(s))
    .map((s) => `${by.get(s)} ${s}`)
    .join(", ");
}

export function formatOverview(hosts: HostView[], now: Date): string {
  if (hosts.length === 0) return "No hosts have reported yet.";
  const problems = sortWorstFirst(hosts.filter((h) => h.state !== "ok"));
  const head = `${hosts.length} host${hosts.length === 1 ? "" : "s"}: ${counts(hosts)}`;
  if (problems.length === 0) return `${head}. All fine.`;
  return [head, ...capped(problems.map((h) => hostLine(h, now)))].join("\n");
}

export function formatDown(hosts: HostView[], total: number, now: Date, state?: string): string {
  if (hosts.length === 0) {
    if (total === 0) return "No hosts have reported yet.";
    return state ? `No host is ${state} (of ${total}).` : `Nothing is down: all ${total} hosts ok.`;
  }
  return capped(sortWorstFirst(hosts).map((h) => hostLine(h, now))).join("\n");
}

export function formatHosts(pattern: string, hosts: HostView[], now: Date): string {
  if (hosts.length === 0) return `No host matches ${pattern}.`;
  return capped(sortWorstFirst(hosts).map((h) => hostLine(h, now))).join("\n");
}

export interface CheckOutcome {
  host: string;
  /** The agent's result struct, or the fault's message. */
  result?: RpcStruct;
  error?: string;
}

export function formatCheckOutcomes(check: string, outcomes: CheckOutcome[]): string {
  if (outcomes.length === 0) return `No host to run ${check} on.`;
  const rank = (o: CheckOutcome) => (o.error ? -1 : (RANK[String(o.result?.state)] ?? 3));
  return capped(
    [...outcomes]
      .sort((a, b) => rank(a) - rank(b) || a.host.localeCompare(b.host))
      .map((o) => {
        if (o.error) return `ERR ${o.host} ${check}: ${o.error}`;
        const state = String(o.result?.state ?? "unknown");
        return `${LABEL[state] ?? state.toUpperCase()} ${o.host} ${String(o.result?.name ?? check)}: ${String(o.result?.output ?? "")}`;
      }),
  ).join("\n");
}

const ALERT_LABEL: Record<string, string> = { ...LABEL, start: "FLAP", up: "UP", failed: "FAIL" };

/** One open problem from `alerts.list`: "#42 DOWN web01: went offline, 5m [acked by …]". */
export function alertLine(value: RpcValue, now: Date): string {
  const a = value as RpcStruct;
  const state = String(a.state ?? "");
  const label = ALERT_LABEL[state] ?? state.toUpperCase();
  const name = String(a.jid ?? "").split("@")[0] || String(a.host ?? "");
  const what = a.check ? `${name} ${String(a.check)}` : name;
  const since = ago(a.since instanceof Date ? a.since : undefined, now);
  const flags: string[] = [];
  if (a.acknowledged === true)
    flags.push(
      `acked${a.ackBy ? ` by ${String(a.ackBy)}` : ""}${a.ackComment ? `: ${String(a.ackComment)}` : ""}`,
    );
  if (a.silenced === true) flags.push(`silenced${a.silenceId ? ` #${String(a.silenceId)}` : ""}`);
  const text = a.text ? `: ${String(a.text)}` : "";
  return `#${String(a.id)} ${label} ${what}${text}${since ? `, ${since}` : ""}${flags.length ? ` [${flags.join("; ")}]` : ""}`;
}

/**
 * `alerts.list` comes worst first already; the order is kept. `total`: the
 * number of open alerts when `alerts` is only the first page of them.
 */
export function formatAlerts(alerts: RpcValue[], now: Date, total = alerts.length): string {
  if (alerts.length === 0) return "No open alerts.";
  return capped(
    alerts.map((a) => alertLine(a, now)),
    total,
  ).join("\n");
}

/** "web01 disk CRITICAL" for an alert struct. */
function alertSubject(a: RpcStruct): string {
  const name = String(a.jid ?? "").split("@")[0] || String(a.host ?? "");
  const what = a.check ? `${name} ${String(a.check)}` : name;
  const state = String(a.state ?? "");
  return `${what} ${ALERT_LABEL[state] ?? state.toUpperCase()}`;
}

export function formatAck(value: RpcValue): string {
  const a = value as RpcStruct;
  return `Acknowledged alert #${String(a.id)} (${alertSubject(a)}): no more notifications for it until it recovers.`;
}

export function formatUnack(value: RpcValue): string {
  const a = value as RpcStruct;
  return `Acknowledgement of alert #${String(a.id)} (${alertSubject(a)}) withdrawn: it is notified and reminded of again.`;
}

/** "#3 web* for 1h59m more: deploy (alice@example.org)". */
export function formatSilences(silences: RpcValue[], now: Date, total = silences.length): string {
  if (silences.length === 0) return "No active silences.";
  return capped(
    silences.map((v) => {
      const s = v as RpcStruct;
      const left =
        s.expiresAt instanceof Date
          ? remaining(Math.round((s.expiresAt.getTime() - now.getTime()) / 1000))
          : "";
      const comment = s.comment ? `: ${String(s.comment)}` : "";
      const by = s.createdBy ? ` (${String(s.createdBy)})` : "";
      return `#${String(s.id)} ${String(s.pattern)}${left ? ` for ${left} more` : ""}${comment}${by}`;
    }),
    total,
  ).join("\n");
}

/** "#4 web-* until 2026-12-02T16:00:00.000Z: kernel upgrade (alice@example.org)". */
export function formatDowntimes(
  downtimes: RpcValue[],
  now: Date,
  total = downtimes.length,
): string {
  if (downtimes.length === 0) return "No scheduled downtime.";
  return capped(
    downtimes.map((v) => {
      const d = v as RpcStruct;
      const start = d.start instanceof Date ? d.start : now;
      const when = d.cron
        ? `every "${String(d.cron)}" (UTC) for ${remaining(Number(d.durationS))}`
        : start > now
          ? `from ${start.toISOString()} until ${(d.end as Date).toISOString()}`
          : `for ${remaining(Math.round(((d.end as Date).getTime() - now.getTime()) / 1000))} more`;
      const comment = d.comment ? `: ${String(d.comment)}` : "";
      const by = d.createdBy ? ` (${String(d.createdBy)})` : "";
      return `#${String(d.id)} ${String(d.pattern)} ${when}${comment}${by}`;
    }),
    total,
  ).join("\n");
}

/** 7140 → "1h59m", 90 → "1m30s", 3 days → "3d". */
function remaining(seconds: number): string {
  if (seconds <= 0) return "";
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d > 0) return `${d}d${h ? `${h}h` : ""}`;
  if (h > 0) return `${h}h${m ? `${m}m` : ""}`;
  if (m > 0) return `${m}m${s ? `${s}s` : ""}`;
  return `${s}s`;
}

export function formatHelp(role: "admin" | "viewer"): string {
  const lines = COMMAND_HELP.map(([usage, what]) => `${usage} — ${what}`);
  const note =
    role === "viewer" ? "\n(You have read-only access: status, down, alerts, silences.)" : "";
  return `I understand:\n${lines.join("\n")}${note}`;
}

export function formatUnknown(text: string, suggestions: string[]): string {
  const quoted = text.length > 60 ? `${text.slice(0, 57)}…` : text;
  if (suggestions.length === 0)
    return `Sorry, I didn't understand "${quoted}". Say "help" for what I can do.`;
  return `Sorry, I didn't understand "${quoted}". Did you mean: ${suggestions.join(" | ")}? Say "help" for more.`;
}

export const REFUSAL =
  "Sorry, I only take commands from jabmon's administrators. Ask one of them to add your JID to the AdminBot's admins or viewers.";
export const READ_ONLY_REFUSAL = "Sorry, you have read-only access: that needs an administrator.";
