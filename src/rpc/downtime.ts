/**
 * downtime.add / downtime.list / downtime.remove: scheduled downtime of the
 * monitor's alerting policy (src/monitor/alerting). Problems inside a window
 * are recorded, not notified; one still open at the window's end is notified
 * then. The AdminBot's `downtime` command calls these.
 */
import { type Downtime, DowntimeError, type DowntimeInput } from "../monitor/index.js";
import { parseSilencePattern } from "./alerts.js";
import type { RpcStruct, RpcValue } from "./codec.js";
import { RpcFault } from "./errors.js";
import { answerList, PAGE_PARAM } from "./paging.js";
import type { RpcService } from "./service.js";

/** The part of the monitor's DowntimeStore these methods use. */
export interface DowntimeStoreLike {
  add(input: DowntimeInput): Promise<Downtime>;
  list(): Promise<Downtime[]>;
  remove(id: string): Promise<boolean>;
}

const MAX_S = 366 * 86_400;
const badParam = (message: string) => new RpcFault("JABMON_RPC_BAD_PARAMS", message);

export function downtimeStruct(d: Downtime): RpcStruct {
  const struct: RpcStruct = {
    id: Number(d.id),
    pattern: d.check === "*" ? d.host : `${d.host}/${d.check}`,
    host: d.host,
    check: d.check,
    comment: d.comment,
    createdBy: d.createdBy,
    createdAt: new Date(d.createdAt),
    start: new Date(d.start),
  };
  if (d.end < 8.64e15) struct.end = new Date(d.end);
  if (d.cron) {
    struct.cron = d.cron;
    struct.durationS = Math.round((d.durationMs ?? 0) / 1000);
  }
  return struct;
}

/** A downtime's place in downtime.list (by id), as its page cursor. */
const downtimeKey = (d: RpcStruct) => String(Number(d.id) || 0).padStart(12, "0");

/** `options`: {cron: "0 3 * * 0"} for a recurring window; {start: dateTime} for one that starts later. */
function scheduleFrom(value: RpcValue | undefined): { cron?: string; start?: number } {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || value instanceof Date || Array.isArray(value))
    throw badParam("downtime.add: parameter 'options' (4) must be a struct {cron, start}");
  const out: { cron?: string; start?: number } = {};
  for (const [key, v] of Object.entries(value as RpcStruct)) {
    if (key === "cron" && typeof v === "string" && v.length <= 200) out.cron = v;
    else if (key === "start" && v instanceof Date) out.start = v.getTime();
    else
      throw badParam(
        `downtime.add: options.${key.slice(0, 40)} is not understood (cron: string, start: dateTime)`,
      );
  }
  return out;
}

export function registerDowntimeMethods(
  service: RpcService,
  store: DowntimeStoreLike,
  parseDuration: (text: string) => number | undefined,
): void {
  service.method({
    name: "downtime.add",
    access: "admin",
    params: [
      { name: "pattern", type: "string" },
      { name: "duration", type: ["int", "string"] },
      { name: "comment", type: "string", optional: true },
      { name: "options", type: "struct", optional: true },
    ],
    help: "Schedule downtime for hosts (glob, optionally host/check): problems are recorded, not notified. options: {cron} for a recurring window of 'duration', {start} for a later one.",
    handler: async ([pattern, duration, comment, options], context) => {
      const seconds = typeof duration === "number" ? duration : parseDuration(String(duration));
      if (seconds === undefined || seconds <= 0 || seconds > MAX_S)
        throw badParam(
          "downtime.add: parameter 'duration' (2) must be 1 s to 366 days, e.g. 7200 or '2h'",
        );
      const { host, check } = parseSilencePattern(String(pattern));
      const schedule = scheduleFrom(options);
      try {
        const d = await store.add({
          host,
          check,
          comment: (comment as string | undefined) ?? "",
          createdBy: context.caller,
          durationMs: seconds * 1000,
          ...schedule,
        });
        return downtimeStruct(d);
      } catch (err) {
        if (err instanceof DowntimeError) throw badParam(`downtime.add: ${err.message}`);
        throw err;
      }
    },
  });
  service.method({
    name: "downtime.list",
    access: "read",
    params: [PAGE_PARAM],
    help: "Scheduled downtimes not over yet (active and to come), by id. page: {limit, after} answers {items, total, more, next}.",
    handler: ([page], context) =>
      answerList(
        { method: "downtime.list", noun: "downtimes", position: 1, key: downtimeKey },
        page,
        async () => (await store.list()).map(downtimeStruct),
        context,
      ),
  });
  service.method({
    name: "downtime.remove",
    access: "admin",
    params: [{ name: "id", type: "int" }],
    help: "End or cancel a downtime now; problems it held and still open are notified.",
    handler: async ([id]) => {
      if (!(await store.remove(String(id))))
        throw new RpcFault("JABMON_RPC_NOT_FOUND", `no downtime ${id}`);
      return true;
    },
  });
}
