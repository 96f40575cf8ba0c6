/**
 * What the RPC methods need from the rest of jabmon, as one small interface,
 * so each part can come from wherever it lives: hosts from the HostStore,
 * check.run/agent.reload from the AgentForwarder, alerts and silences from the
 * monitor (`monitorAlertsBackend` in alerts.ts).
 */
import { globMatch } from "../protocol/index.js";
import type { HostRecord, HostStore } from "../store/index.js";
import type { RpcStruct, RpcValue } from "./codec.js";

export interface HostFilter {
  /** Glob (`*`, `?`) on the bare JID, its local part, the host name or its first label. */
  pattern?: string;
  /** ok, warning, critical, unknown or down. */
  state?: string;
  /** Only hosts that are not ok (down, critical, warning, unknown). */
  problems?: boolean;
  online?: boolean;
}

export interface Caller {
  /** Full JID of the caller, for a reply sent after the call returns. */
  from: string;
  /** The caller's IQ id. */
  iqId: string;
}

export interface ForwardOptions {
  /** Seconds a request for an offline agent may wait; 0 = fail at once if offline. */
  expiryS?: number;
  caller: Caller;
}

export interface RpcBackend {
  listHosts(filter: HostFilter): Promise<RpcStruct[]>;
  hostStatus(jid: string): Promise<RpcStruct | undefined>;
  listAlerts(): Promise<RpcStruct[]>;
  ackAlert(id: number, comment: string, by: string): Promise<RpcStruct>;
  unackAlert(id: number, by: string): Promise<RpcStruct>;
  addSilence(pattern: string, durationS: number, comment: string, by: string): Promise<RpcStruct>;
  listSilences(): Promise<RpcStruct[]>;
  removeSilence(id: number, by: string): Promise<boolean>;
  runCheck(jid: string, check: string, options: ForwardOptions): Promise<RpcValue>;
  reloadAgent(jid: string, options: ForwardOptions): Promise<RpcValue>;
}

export type HostsBackend = Pick<RpcBackend, "listHosts" | "hostStatus">;
export type AlertsBackend = Pick<
  RpcBackend,
  "listAlerts" | "ackAlert" | "unackAlert" | "addSilence" | "listSilences" | "removeSilence"
>;
export type AgentsBackend = Pick<RpcBackend, "runCheck" | "reloadAgent">;

/** Whether a glob (src/monitor glob: linear, case-insensitive) names this host. */
export function hostMatches(host: Pick<HostRecord, "jid" | "host">, pattern: string): boolean {
  const local = host.jid.split("@")[0] ?? host.jid;
  const label = host.host.split(".")[0] ?? host.host;
  return [host.jid, local, host.host, label].some((name) => globMatch(pattern, name));
}

export function hostStruct(record: HostRecord): RpcStruct {
  const struct: RpcStruct = {
    jid: record.jid,
    host: record.host,
    online: record.online,
    state: record.state,
    summary: record.summary,
    status: record.status,
    version: record.version,
    lastSeen: new Date(record.lastSeen),
    since: new Date(record.since),
    offlineReason: record.offlineReason,
  };
  if (record.checks !== undefined) struct.checks = record.checks;
  if (record.failing !== undefined) struct.failing = record.failing;
  return struct;
}

/** hosts.list and host.status on the status database's host records. */
export function hostsBackend(hosts: HostStore): HostsBackend {
  return {
    async listHosts(filter) {
      const pattern = filter.pattern;
      const records = (await hosts.list()).filter(
        (h) =>
          (!pattern || hostMatches(h, pattern)) &&
          (filter.state === undefined || h.state === filter.state) &&
          (filter.online === undefined || h.online === filter.online) &&
          (!filter.problems || h.state !== "ok"),
      );
      // Code-unit order: the order of hosts.list's page cursor (paging.ts).
      records.sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0));
      return records.map(hostStruct);
    },
    async hostStatus(jid) {
      const record = await hosts.get(jid.toLowerCase());
      return record ? hostStruct(record) : undefined;
    },
  };
}
