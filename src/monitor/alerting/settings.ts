/**
 * The alerting policy for large fleets (docs/monitor.md, "Alerting for large
 * fleets"): what the `alerting` config section turns into. Validated at start
 * by the zod schema in src/config/schemas.ts; the defaults keep one message
 * per alert, at once, as before.
 */

import type { ReceiverConfig, RouteConfig } from "./routing.js";

/** Labels an alert can be grouped by. */
export const GROUP_LABELS = ["kind", "check", "state", "host", "jid"] as const;
export type GroupLabel = (typeof GROUP_LABELS)[number];

export interface DependencyRule {
  /** Glob on the child's JID, local part or host name (as silences). */
  hosts: string;
  /** The parents: host names, local parts (of the child's domain) or bare JIDs. */
  parents: string[];
}

export interface InhibitRule {
  /** An open problem matching this ... */
  source: { kind?: string; check?: string; state?: string };
  /** ... suppresses alerts matching this ... */
  target: { kind?: string; check?: string; state?: string };
  /** ... when these labels are equal in both (default: the same host). */
  equal: GroupLabel[];
}

export interface AlertingSettings {
  /** Named receivers; with none, every message goes to the `alerts` settings' sinks. */
  receivers: ReceiverConfig[];
  /** The routing tree's root (its receiver is the default); used when receivers are set. */
  route?: RouteConfig | undefined;
  group: {
    /** Labels whose values together name an alert's group. */
    by: GroupLabel[];
    /** How long the first alert of a new group waits for others (ms); 0 sends at once. */
    waitMs: number;
    /** After a group was sent, its next alerts wait at least this long (ms). */
    intervalMs: number;
    /** Hosts named in a grouped message; the rest are counted. */
    listMax: number;
  };
  dependencies: {
    /** Alerts of hosts with parents wait this long, so a parent's failure is seen first (ms). */
    holdMs: number;
    /** After a parent recovers, its children still bad are alerted after this (ms). */
    recoveryGraceMs: number;
    rules: DependencyRule[];
  };
  /**
   * Hosts known to flap: their "host down" waits graceMs; if they are back by
   * then neither the down nor the recovery is sent.
   */
  hostDownGrace: Array<{ hosts: string; graceMs: number }>;
  /** Messages a receiver gets per minute at most; the rest become one summary. 0 = no limit. */
  rateLimitPerMinute: number;
  inhibit: InhibitRule[];
  /** How often held alerts (downtime ends, parent recoveries) are looked at (ms). */
  tickMs: number;
}

export const DEFAULT_ALERTING: AlertingSettings = {
  receivers: [],
  group: { by: ["kind", "check", "state"], waitMs: 0, intervalMs: 60_000, listMax: 10 },
  dependencies: { holdMs: 5000, recoveryGraceMs: 30_000, rules: [] },
  hostDownGrace: [],
  rateLimitPerMinute: 0,
  inhibit: [],
  tickMs: 1000,
};
