/**
 * `jabmon notify`: a Nagios notification command. Nagios passes its macros as
 * arguments ($HOSTNAME$ ...) or, with enable_environment_macros=1, as NAGIOS_*
 * environment variables; either becomes a `nagios` alert in jabmon's outbox,
 * dispatched (silences, acks, sinks) like any other.
 *
 * https://assets.nagios.com/downloads/nagioscore/docs/nagioscore/4/en/macrolist.html
 */
import { randomUUID } from "node:crypto";
import type { Keys, Redis } from "../../store/index.js";
import { type AlertRecord, alertFields } from "./record.js";

export interface NotifyArgs {
  type?: string;
  host?: string;
  service?: string;
  state?: string;
  output?: string;
}

export class NotifyError extends Error {
  override name = "NotifyError";
}

/** Build the alert from arguments, falling back to NAGIOS_* macros in the environment. */
export function nagiosAlert(
  args: NotifyArgs,
  env: NodeJS.ProcessEnv,
  now = Date.now(),
): AlertRecord {
  const service = args.service ?? env.NAGIOS_SERVICEDESC ?? "";
  const host = args.host ?? env.NAGIOS_HOSTNAME ?? "";
  if (!host) throw new NotifyError("no host: pass --host or set NAGIOS_HOSTNAME");
  const state = (
    args.state ??
    (service ? env.NAGIOS_SERVICESTATE : env.NAGIOS_HOSTSTATE) ??
    ""
  ).toLowerCase();
  if (!state)
    throw new NotifyError("no state: pass --state or set NAGIOS_SERVICESTATE/NAGIOS_HOSTSTATE");
  const output = args.output ?? (service ? env.NAGIOS_SERVICEOUTPUT : env.NAGIOS_HOSTOUTPUT) ?? "";
  const type = (args.type ?? env.NAGIOS_NOTIFICATIONTYPE ?? "PROBLEM").toUpperCase();
  return {
    id: randomUUID(),
    kind: "nagios",
    jid: host,
    host,
    check: service,
    state,
    previous: "",
    text: type === "PROBLEM" || type === "RECOVERY" ? output : `${type}: ${output}`,
    time: now,
  };
}

export async function raiseAlert(
  redis: Redis,
  keys: Keys,
  alert: AlertRecord,
  outboxMax = 100_000,
) {
  return redis.xadd(keys.alertOutbox(), "MAXLEN", "~", outboxMax, "*", ...alertFields(alert));
}
