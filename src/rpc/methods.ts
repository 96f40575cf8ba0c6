/**
 * The component's RPC methods (docs/rpc.md is their reference; a test checks
 * that every method registered here is documented there).
 */

import { alertKey, silenceKey } from "./alerts.js";
import type { HostFilter, RpcBackend } from "./backend.js";
import type { RpcStruct, RpcValue } from "./codec.js";
import { RpcFault } from "./errors.js";
import { answerList, PAGE_PARAM } from "./paging.js";
import type { CallContext, RpcService } from "./service.js";

const STATES = ["ok", "warning", "critical", "unknown", "down"];

const badParam = (message: string) => new RpcFault("JABMON_RPC_BAD_PARAMS", message);

/** "90", "90s", "15m", "2h", "1d", "1h30m" → seconds; undefined if not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  // Longest unit names first, so "minutes" is not read as "m" + "inutes".
  const re = /\s*(\d+)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)/gy;
  let total = 0;
  let end = 0;
  for (const match of trimmed.matchAll(re)) {
    const n = Number(match[1]);
    const unit = (match[2] as string)[0];
    total += n * ({ s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[unit as "s"] ?? 0);
    end = (match.index ?? 0) + match[0].length;
  }
  return end === trimmed.length && end > 0 && total > 0 ? total : undefined;
}

function filterFrom(value: RpcValue | undefined): HostFilter {
  if (value === undefined || value === null) return {};
  if (typeof value === "string") return { pattern: value };
  const struct = value as RpcStruct;
  const filter: HostFilter = {};
  for (const [key, v] of Object.entries(struct)) {
    switch (key) {
      case "pattern":
        if (typeof v !== "string") throw badParam("hosts.list: filter.pattern must be a string");
        filter.pattern = v;
        break;
      case "state":
        if (typeof v !== "string" || !STATES.includes(v))
          throw badParam(`hosts.list: filter.state must be one of ${STATES.join(", ")}`);
        filter.state = v;
        break;
      case "problems":
      case "online":
        if (typeof v !== "boolean") throw badParam(`hosts.list: filter.${key} must be a boolean`);
        filter[key] = v;
        break;
      default:
        throw badParam(
          `hosts.list: unknown filter member '${key.slice(0, 40)}' (pattern, state, problems, online)`,
        );
    }
  }
  return filter;
}

function jidParam(method: string, value: RpcValue | undefined): string {
  const jid = String(value).trim().toLowerCase();
  if (!/^[^@/\s]+@[^@/\s]+$/.test(jid))
    throw badParam(`${method}: parameter 'jid' (1) must be a bare JID such as web01@example.org`);
  return jid;
}

function expiryParam(method: string, value: RpcValue | undefined): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || value < 0 || value > 7 * 86_400)
    throw badParam(`${method}: parameter 'expiry' must be 0..604800 seconds`);
  return value;
}

const caller = (context: CallContext) => ({ from: context.from, iqId: context.iqId });

export function registerComponentMethods(service: RpcService, backend: RpcBackend): void {
  service.method({
    name: "hosts.list",
    access: "read",
    params: [{ name: "filter", type: ["struct", "string"], optional: true }, PAGE_PARAM],
    help: "Known hosts with their state, sorted by JID. filter: a glob, or {pattern, state, problems, online}; page: {limit, after} answers {items, total, more, next}.",
    handler: ([filter, page], context) => {
      const hostFilter = filterFrom(filter);
      return answerList(
        { method: "hosts.list", noun: "hosts", position: 2, key: (h) => String(h.jid) },
        page,
        () => backend.listHosts(hostFilter),
        context,
      );
    },
  });
  service.method({
    name: "host.status",
    access: "read",
    params: [{ name: "jid", type: "string" }],
    help: "One host's state, status text, version and times.",
    handler: async ([jid]) => {
      const bare = jidParam("host.status", jid);
      const host = await backend.hostStatus(bare);
      if (!host) throw new RpcFault("JABMON_RPC_NOT_FOUND", `no host ${bare} is known`);
      return host;
    },
  });
  service.method({
    name: "alerts.list",
    access: "read",
    params: [PAGE_PARAM],
    help: "Open alerts, worst first. page: {limit, after} answers {items, total, more, next}.",
    handler: ([page], context) =>
      answerList(
        { method: "alerts.list", noun: "alerts", position: 1, key: alertKey },
        page,
        () => backend.listAlerts(),
        context,
      ),
  });
  service.method({
    name: "alert.ack",
    access: "admin",
    params: [
      { name: "id", type: "int" },
      { name: "comment", type: "string", optional: true },
    ],
    help: "Acknowledge an alert: no more notifications for it until it changes.",
    handler: ([id, comment], context) =>
      backend.ackAlert(id as number, (comment as string | undefined) ?? "", context.caller),
  });
  service.method({
    name: "alert.unack",
    access: "admin",
    params: [{ name: "id", type: "int" }],
    help: "Withdraw an acknowledgement: the alert's problem is notified and reminded of again.",
    handler: ([id], context) => backend.unackAlert(id as number, context.caller),
  });
  service.method({
    name: "silence.add",
    access: "admin",
    params: [
      { name: "pattern", type: "string" },
      { name: "duration", type: ["int", "string"] },
      { name: "comment", type: "string", optional: true },
    ],
    help: "Silence notifications for hosts matching a glob, for a duration (seconds, or text such as 2h).",
    handler: ([pattern, duration, comment], context) => {
      const seconds = typeof duration === "number" ? duration : parseDuration(String(duration));
      if (seconds === undefined || seconds <= 0 || seconds > 90 * 86_400)
        throw badParam(
          "silence.add: parameter 'duration' (2) must be 1 s to 90 days, e.g. 7200 or '2h'",
        );
      return backend.addSilence(
        pattern as string,
        seconds,
        (comment as string | undefined) ?? "",
        context.caller,
      );
    },
  });
  service.method({
    name: "silence.list",
    access: "read",
    params: [PAGE_PARAM],
    help: "Active silences, oldest first. page: {limit, after} answers {items, total, more, next}.",
    handler: ([page], context) =>
      answerList(
        { method: "silence.list", noun: "silences", position: 1, key: silenceKey },
        page,
        () => backend.listSilences(),
        context,
      ),
  });
  service.method({
    name: "silence.remove",
    access: "admin",
    params: [{ name: "id", type: "int" }],
    help: "End a silence now.",
    handler: async ([id], context) => {
      if (!(await backend.removeSilence(id as number, context.caller)))
        throw new RpcFault("JABMON_RPC_NOT_FOUND", `no silence ${id}`);
      return true;
    },
  });
  service.method({
    name: "check.run",
    access: "admin",
    params: [
      { name: "jid", type: "string" },
      { name: "check", type: "string" },
      { name: "expiry", type: "int", optional: true },
    ],
    help: "Run one of the agent's configured checks now; queued up to 'expiry' seconds if the agent is offline.",
    handler: ([jid, check, expiry], context) =>
      backend.runCheck(jidParam("check.run", jid), check as string, {
        expiryS: expiryParam("check.run", expiry),
        caller: caller(context),
      }),
  });
  service.method({
    name: "agent.reload",
    access: "admin",
    params: [
      { name: "jid", type: "string" },
      { name: "expiry", type: "int", optional: true },
    ],
    help: "Ask the agent to reload its configuration; queued like check.run.",
    handler: ([jid, expiry], context) =>
      backend.reloadAgent(jidParam("agent.reload", jid), {
        expiryS: expiryParam("agent.reload", expiry),
        caller: caller(context),
      }),
  });
}
