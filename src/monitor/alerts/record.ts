/**
 * The alert record: what the monitor detected, before silences, acks and
 * delivery are applied. It travels as flat string fields through the outbox
 * stream (written atomically with the state change it reports).
 */
/** `plane`: the monitoring plane itself (src/monitor/hosts/plane.ts): state degraded or recovered. */
export const ALERT_KINDS = [
  "host",
  "check",
  "score",
  "flapping",
  "backup",
  "nagios",
  "plane",
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface AlertRecord {
  /** Unique and stable across redelivery (used as the webhook job id). */
  id: string;
  kind: AlertKind;
  /** The agent's bare JID (or the Nagios host name for `nagios` alerts). */
  jid: string;
  /** The host's name, for people. */
  host: string;
  /** Check (or backup job) name; empty for host-level alerts. */
  check: string;
  /** New state: up/down for hosts, ok/warning/critical/unknown, flapping start/stop. */
  state: string;
  previous: string;
  /** One line for people. */
  text: string;
  time: number;
  /** Set on re-notifications of a problem still open: 1, 2, ... */
  renotify?: number;
  /** With `renotify`: when the problem was first notified (ms). */
  since?: number;
  /**
   * Short number given when the alert is dispatched (INCR `alerts:seq`), for
   * people: "ack 42". Absent in the outbox; a redelivered alert gets a new one.
   */
  num?: number;
}

export function alertFields(
  alert: Omit<AlertRecord, "previous"> & { previous?: string },
): string[] {
  const fields = [
    "id",
    alert.id,
    "kind",
    alert.kind,
    "jid",
    alert.jid,
    "host",
    alert.host,
    "check",
    alert.check,
    "state",
    alert.state,
    "text",
    alert.text,
    "time",
    String(alert.time),
  ];
  if (alert.previous !== undefined) fields.push("previous", alert.previous);
  if (alert.renotify) fields.push("renotify", String(alert.renotify), "since", String(alert.since));
  if (alert.num !== undefined) fields.push("num", String(alert.num));
  return fields;
}

export function alertFromFields(fields: string[]): AlertRecord {
  const m: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) m[fields[i] as string] = fields[i + 1] as string;
  const record: AlertRecord = {
    id: m.id ?? "",
    kind: (m.kind ?? "check") as AlertKind,
    jid: m.jid ?? "",
    host: m.host ?? "",
    check: m.check ?? "",
    state: m.state ?? "",
    previous: m.previous ?? "",
    text: m.text ?? "",
    time: Number(m.time ?? 0),
  };
  if (m.renotify) {
    record.renotify = Number(m.renotify);
    record.since = Number(m.since ?? 0);
  }
  if (m.num) record.num = Number(m.num);
  return record;
}

/**
 * The readable one-line message sent to people (XMPP, MUC). A numbered
 * problem ends with ` [#42]`, the number `ack 42` takes; recoveries do not
 * (there is nothing left to acknowledge).
 */
export function alertMessage(alert: AlertRecord): string {
  const text = alertText(alert);
  return alert.num !== undefined && !isRecovery(alert) ? `${text} [#${alert.num}]` : text;
}

function alertText(alert: AlertRecord): string {
  if (alert.renotify)
    return `REMINDER: ${firstMessage(alert)} (unacknowledged since ${new Date(alert.since ?? alert.time).toISOString()})`;
  return firstMessage(alert);
}

function firstMessage(alert: AlertRecord): string {
  const who = alert.host && alert.host !== alert.jid ? `${alert.host} (${alert.jid})` : alert.jid;
  switch (alert.kind) {
    case "host":
      return alert.state === "down"
        ? `PROBLEM: host ${who} is DOWN: ${alert.text}`
        : `RECOVERY: host ${who} is UP again${alert.text ? `: ${alert.text}` : ""}`;
    case "check":
      return `${alert.state === "ok" ? "RECOVERY" : "PROBLEM"}: ${who} check ${alert.check} is ${alert.state.toUpperCase()}${alert.previous ? ` (was ${alert.previous})` : ""}: ${alert.text}`;
    case "flapping":
      return alert.state === "start"
        ? `FLAPPING: ${who} check ${alert.check} is flapping (${alert.text}); notifications paused until it settles`
        : `FLAPPING STOPPED: ${who} check ${alert.check} settled (${alert.text})`;
    case "score":
      return `${alert.state === "ok" ? "RECOVERY" : "PROBLEM"}: host ${who} badness is ${alert.state.toUpperCase()}${alert.previous ? ` (was ${alert.previous})` : ""}: ${alert.text}`;
    case "backup":
      return `${alert.state === "ok" ? "RECOVERY" : "PROBLEM"}: ${who} backup ${alert.check} ${alert.state === "ok" ? "succeeded" : "FAILED"}: ${alert.text}`;
    case "plane":
      return alert.state === "recovered"
        ? `RECOVERY: monitoring recovered: ${alert.text}`
        : `PROBLEM: monitoring degraded: ${alert.text}`;
    case "nagios":
      return `NAGIOS: ${alert.host}${alert.check ? ` ${alert.check}` : ""} is ${alert.state.toUpperCase()}: ${alert.text}`;
  }
}

/** Recoveries clear acknowledgements and are sent even for acknowledged problems. */
export function isRecovery(alert: AlertRecord): boolean {
  return (
    alert.state === "up" ||
    alert.state === "ok" ||
    alert.state === "recovered" ||
    (alert.kind === "flapping" && alert.state === "stop")
  );
}
