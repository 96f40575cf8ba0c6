/**
 * Readable messages for what the alerting policy sends instead of one
 * message per alert: a parent's alert counting its unreachable dependants,
 * a group of alerts as counts and the first names, a rate-limit summary.
 */
import { type AlertRecord, alertMessage, isRecovery } from "../alerts/record.js";

/** The parent's own alert, with how many dependants are unreachable because of it. */
export function withDependants(
  alert: AlertRecord,
  dependants: string[],
  listMax: number,
): AlertRecord {
  if (dependants.length === 0) return alert;
  const names = dependants.slice(0, listMax).join(", ");
  const more = dependants.length > listMax ? `, … (${dependants.length - listMax} more)` : "";
  return {
    ...alert,
    text: `${alert.text}; ${dependants.length} dependent hosts unreachable (${names}${more})`,
  };
}

function headline(alert: AlertRecord, sameState: boolean): string {
  const state = sameState ? ` is ${alert.state.toUpperCase()}` : "";
  switch (alert.kind) {
    case "host":
      return sameState ? `hosts are ${alert.state === "down" ? "DOWN" : "UP again"}` : "hosts";
    case "check":
      return `check ${alert.check}${state}`;
    case "backup":
      return `backup ${alert.check}${state}`;
    default:
      return `${alert.kind}${alert.check ? ` ${alert.check}` : ""}${state}`;
  }
}

/** One message for several alerts: `PROBLEM: 200 hosts: check http is CRITICAL: web001 [#5], …`. */
export function groupMessage(alerts: AlertRecord[], listMax: number): string {
  const first = alerts[0] as AlertRecord;
  const sameState = alerts.every((a) => a.state === first.state);
  const recovery = alerts.every(isRecovery);
  const hosts = new Set(alerts.map((a) => a.jid)).size;
  const shown = alerts.slice(0, listMax).map((a) => {
    const name = a.host || a.jid;
    const state = sameState ? "" : ` ${a.state}`;
    const num = a.num !== undefined && !isRecovery(a) ? ` [#${a.num}]` : "";
    return `${name}${state}${num}`;
  });
  const more = alerts.length > listMax ? `, … and ${alerts.length - listMax} more` : "";
  return `${recovery ? "RECOVERY" : "PROBLEM"}: ${hosts} hosts, ${alerts.length} alerts: ${headline(first, sameState)}: ${shown.join(", ")}${more}`;
}

/** The one message that replaces those over a receiver's rate limit. */
export function rateSummary(dropped: AlertRecord[], limit: number, listMax: number): string {
  const problems = dropped.filter((a) => !isRecovery(a)).length;
  const names = [...new Set(dropped.map((a) => a.host || a.jid))].slice(0, listMax);
  return `RATE LIMITED: ${dropped.length} more alerts this minute (limit ${limit}/min; ${problems} problems, ${dropped.length - problems} recoveries): ${names.join(", ")}${dropped.length > names.length ? ", …" : ""}. See alerts.list for all.`;
}

export { alertMessage };
