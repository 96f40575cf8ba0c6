/**
 * Pending notification groups (Alertmanager's group_wait / group_interval),
 * kept in Redis so that several component instances share them and a
 * restart keeps them: a sorted set of group keys by due time and a list of
 * alerts per group. One script adds an alert (creating the group with its due
 * time), another takes the due groups, so each group is sent by one instance.
 */
import { defineScripts, luaScript, type Redis } from "../../store/index.js";
import type { AlertRecord } from "../alerts/record.js";
import type { AlertingKeys } from "./keys.js";
import type { GroupLabel } from "./settings.js";

/** groupAdd-3 adds an alert, groupTakeDue-2 takes the due groups (lua/). */
const SCRIPTS = {
  groupAdd: luaScript(import.meta.url, "groupAdd-3"),
  groupTakeDue: luaScript(import.meta.url, "groupTakeDue-2"),
};

type ScriptedRedis = Redis & {
  groupAdd(k1: string, k2: string, k3: string, ...argv: Array<string | number>): Promise<number>;
  groupTakeDue(k1: string, k2: string, ...argv: Array<string | number>): Promise<unknown>;
};

export function groupKey(alert: AlertRecord, by: GroupLabel[]): string {
  return by.map((label) => `${label}=${String(alert[label] ?? "").toLowerCase()}`).join("|");
}

export interface PendingGroup {
  key: string;
  alerts: AlertRecord[];
}

export class GroupQueue {
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    private readonly keys: AlertingKeys,
  ) {
    this.redis = defineScripts<ScriptedRedis>(redis, SCRIPTS);
  }

  async add(key: string, alert: AlertRecord, waitMs: number, intervalMs: number): Promise<void> {
    await this.redis.groupAdd(
      this.keys.groups(),
      this.keys.groupPrefix() + key,
      this.keys.groupLast(),
      key,
      JSON.stringify(alert),
      Date.now(),
      waitMs,
      intervalMs,
    );
  }

  async takeDue(now = Date.now(), max = 100): Promise<PendingGroup[]> {
    const reply = (await this.redis.groupTakeDue(
      this.keys.groups(),
      this.keys.groupLast(),
      now,
      max,
      this.keys.groupPrefix(),
    )) as Array<string | string[]>;
    const groups: PendingGroup[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2)
      groups.push({
        key: reply[i] as string,
        alerts: (reply[i + 1] as string[]).map((raw) => JSON.parse(raw) as AlertRecord),
      });
    return groups;
  }
}
