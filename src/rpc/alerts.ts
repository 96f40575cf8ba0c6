/**
 * alerts.list, alert.ack and silence.* on the monitor's AlertCenter and open
 * problems. The monitor numbers every dispatched alert (`[#42]` at the end of
 * the message people receive) and every silence; RPC and the AdminBot use
 * those short numbers. An ack by number acknowledges the alert's *problem*
 * (the host, or the check), which suppresses that problem's later alerts
 * until it recovers; any number the problem was alerted under works.
 */
import {
  type Acknowledgement,
  type AlertRecord,
  ackTarget,
  type OpenProblem,
  problemKey,
  type Silence,
  silenceMatches,
} from "../monitor/index.js";
import type { AlertsBackend } from "./backend.js";
import type { RpcStruct } from "./codec.js";
import { RpcFault } from "./errors.js";

/** The part of the monitor's AlertCenter this adapter uses. */
export interface AlertCenterLike {
  addSilence(input: {
    host: string;
    check?: string;
    comment?: string;
    createdBy?: string;
    durationMs?: number;
  }): Promise<Silence>;
  listSilences(): Promise<Silence[]>;
  removeSilence(id: string): Promise<boolean>;
  acknowledge(jid: string, check: string, by: string, comment: string): Promise<Acknowledgement>;
  unacknowledge(jid: string, check: string): Promise<boolean>;
  listAcks(): Promise<Acknowledgement[]>;
  /** Dispatched alerts, newest first (to resolve an older number of a problem). */
  recent(count: number): Promise<AlertRecord[]>;
}

export interface MonitorAlerts {
  alerts: AlertCenterLike;
  problems: { list(): Promise<OpenProblem[]> };
}

/** How far back in the alert log an older number is looked up. */
const LOG_LOOKUP = 1000;
const MAX_PATTERN = 200;

/** Severity for "worst first": lower is worse. */
const SEVERITY: Record<string, number> = {
  down: 0,
  unreachable: 0,
  critical: 1,
  failed: 1,
  failure: 1,
  error: 1,
  start: 2, // flapping
  warning: 3,
  unknown: 4,
};
const severity = (state: string) => SEVERITY[state.toLowerCase()] ?? 5;

/**
 * `web*`, `web01`, `*@dc2.example.org`: every alert of matching hosts;
 * `web*` + `/` + `disk*`: only those checks (and backup jobs) of those hosts.
 */
export function parseSilencePattern(pattern: string): { host: string; check: string } {
  const trimmed = pattern.trim();
  const slash = trimmed.indexOf("/");
  const host = slash < 0 ? trimmed : trimmed.slice(0, slash).trim();
  const check = slash < 0 ? "*" : trimmed.slice(slash + 1).trim();
  if (!host || !check || trimmed.length > MAX_PATTERN || /\s/.test(host) || /\s/.test(check))
    throw new RpcFault(
      "JABMON_RPC_BAD_PARAMS",
      "silence.add: parameter 'pattern' (1) must be a host glob, optionally host/check, e.g. web* or web*/disk*",
    );
  return { host, check };
}

export function silenceStruct(silence: Silence): RpcStruct {
  const id = Number(silence.id);
  return {
    // A silence written before ids were numbers cannot be named; 0 says so.
    id: Number.isSafeInteger(id) ? id : 0,
    pattern: silence.check === "*" ? silence.host : `${silence.host}/${silence.check}`,
    host: silence.host,
    check: silence.check,
    comment: silence.comment,
    createdBy: silence.createdBy,
    createdAt: new Date(silence.createdAt),
    expiresAt: new Date(silence.expiresAt),
  };
}

const ackKey = (jid: string, check: string) => `${jid.toLowerCase()}|${check}`;

export function alertStruct(
  problem: OpenProblem,
  ack: Acknowledgement | undefined,
  silence: Silence | undefined,
): RpcStruct {
  const a = problem.alert;
  const struct: RpcStruct = {
    id: a.num ?? 0,
    kind: a.kind,
    jid: a.jid,
    host: a.host,
    check: a.check,
    state: a.state,
    previous: a.previous,
    text: a.text,
    time: new Date(a.time),
    since: new Date(problem.since),
    acknowledged: ack !== undefined,
    silenced: silence !== undefined,
  };
  if (ack) {
    struct.ackBy = ack.by;
    struct.ackComment = ack.comment;
  }
  if (silence) struct.silenceId = Number(silence.id) || 0;
  return struct;
}

/** Past every alert time in ms (year 2286), so that newer times give smaller keys. */
const TIME_CEILING = 9_999_999_999_999;
const padded = (n: number, width: number) =>
  String(Math.max(0, Math.trunc(n))).padStart(width, "0");

/**
 * The alert's place in alerts.list as a string (its page cursor): worst state
 * first, the same state newest first, then by number. Code-unit order of the
 * keys is the list's order.
 */
export function alertKey(alert: RpcStruct): string {
  const time = alert.time instanceof Date ? alert.time.getTime() : 0;
  return `${severity(String(alert.state))}.${padded(TIME_CEILING - time, 13)}.${padded(Number(alert.id), 12)}`;
}

/** A silence's place in silence.list (oldest first), as its page cursor. */
export function silenceKey(silence: RpcStruct): string {
  const created = silence.createdAt instanceof Date ? silence.createdAt.getTime() : 0;
  // The pattern too: silences written before ids were numbers all have id 0.
  return `${padded(created, 13)}.${padded(Number(silence.id), 12)}.${String(silence.pattern)}`;
}

/** Worst state first; the same state, newest first; then by number (as `alertKey`). */
export function sortAlerts(alerts: RpcStruct[]): RpcStruct[] {
  return alerts
    .map((alert) => ({ key: alertKey(alert), alert }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ alert }) => alert);
}

export function monitorAlertsBackend({ alerts, problems }: MonitorAlerts): AlertsBackend {
  async function view(): Promise<{
    open: OpenProblem[];
    acks: Map<string, Acknowledgement>;
    silences: Silence[];
  }> {
    const [open, ackList, silences] = await Promise.all([
      problems.list(),
      alerts.listAcks(),
      alerts.listSilences(),
    ]);
    const acks = new Map(ackList.map((a) => [ackKey(a.jid, a.check), a]));
    return { open, acks, silences };
  }
  const ackOf = (acks: Map<string, Acknowledgement>, alert: AlertRecord) =>
    acks.get(ackKey(alert.jid, ackTarget(alert)));
  const silenceOf = (silences: Silence[], alert: AlertRecord) =>
    silences.find((s) => silenceMatches(s, alert));

  /** The open problem an alert number names: its latest alert's, or an older one of it. */
  async function openProblemOf(open: OpenProblem[], id: number, recovered: string) {
    const latest = open.find((p) => p.alert.num === id);
    if (latest) return latest;
    // An older number of a problem that was alerted again since (e.g. warning, then critical).
    const logged = (await alerts.recent(LOG_LOOKUP)).find((a) => a.num === id);
    if (!logged) throw new RpcFault("JABMON_RPC_NOT_FOUND", `no alert #${id}`);
    const problem = open.find((p) => p.key === problemKey(logged));
    if (!problem)
      throw new RpcFault(
        "JABMON_RPC_NOT_FOUND",
        `alert #${id} (${logged.host || logged.jid}${logged.check ? ` ${logged.check}` : ""}) has recovered: ${recovered}`,
      );
    return problem;
  }

  return {
    async listAlerts() {
      const { open, acks, silences } = await view();
      return sortAlerts(
        open.map((p) => alertStruct(p, ackOf(acks, p.alert), silenceOf(silences, p.alert))),
      );
    },

    async ackAlert(id, comment, by) {
      const { open, acks, silences } = await view();
      const problem = await openProblemOf(open, id, "nothing to acknowledge");
      const { alert } = problem;
      const ack = await alerts.acknowledge(alert.jid, ackTarget(alert), by, comment);
      acks.set(ackKey(ack.jid, ack.check), ack);
      return alertStruct(problem, ack, silenceOf(silences, alert));
    },

    async unackAlert(id) {
      const { open, acks, silences } = await view();
      const problem = await openProblemOf(open, id, "nothing to unacknowledge");
      const { alert } = problem;
      if (!ackOf(acks, alert))
        throw new RpcFault("JABMON_RPC_NOT_FOUND", `alert #${id} is not acknowledged`);
      await alerts.unacknowledge(alert.jid, ackTarget(alert));
      return alertStruct(problem, undefined, silenceOf(silences, alert));
    },

    async addSilence(pattern, durationS, comment, by) {
      const { host, check } = parseSilencePattern(pattern);
      const silence = await alerts.addSilence({
        host,
        check,
        comment,
        createdBy: by,
        durationMs: durationS * 1000,
      });
      return silenceStruct(silence);
    },

    async listSilences() {
      return (await alerts.listSilences()).map(silenceStruct);
    },

    async removeSilence(id) {
      return alerts.removeSilence(String(id));
    },
  };
}
