/**
 * Receivers and the routing tree (Alertmanager style): a route matches alert
 * labels by glob; the deepest matching routes decide the receivers (a route
 * with `continue` lets its later siblings match too); a route without a
 * receiver inherits its parent's. A route's escalation steps notify further
 * receivers while the problem stays unacknowledged.
 */

import { globMatch } from "../../protocol/index.js";
import type { AlertRecord } from "../alerts/record.js";
import { hostMatches } from "./match.js";
import type { GroupLabel } from "./settings.js";

export interface ReceiverConfig {
  name: string;
  /** Chat messages to these bare JIDs. */
  jids: string[];
  /** MUC rooms the component joins and posts to. */
  rooms: string[];
  /** Items on the component's `alerts` pubsub node. */
  alertsNode: boolean;
  /** JSON POSTs (BullMQ, retries with backoff). */
  webhooks: string[];
}

export interface EscalationStep {
  /** Since the problem's first notification (ms). */
  afterMs: number;
  receiver: string;
}

export interface RouteConfig {
  /** Label → glob; all must match (`host` matches the JID, local part or host name). */
  match: Partial<Record<GroupLabel, string>>;
  receiver?: string | undefined;
  continue: boolean;
  escalate: EscalationStep[];
  routes: RouteConfig[];
}

export interface RouteTarget {
  receiver: string;
  escalate: EscalationStep[];
}

export function routeMatches(route: Pick<RouteConfig, "match">, alert: AlertRecord): boolean {
  return Object.entries(route.match).every(([label, glob]) =>
    label === "host"
      ? hostMatches(glob as string, alert)
      : globMatch(glob as string, String(alert[label as GroupLabel] ?? "")),
  );
}

/** The receivers (with their escalation) of an alert; the root always gives one. */
export function routeAlert(root: RouteConfig, alert: AlertRecord, inherited = ""): RouteTarget[] {
  const receiver = root.receiver ?? inherited;
  const found: RouteTarget[] = [];
  for (const child of root.routes) {
    if (!routeMatches(child, alert)) continue;
    found.push(...routeAlert(child, alert, receiver));
    if (!child.continue) break;
  }
  return found.length > 0 ? found : [{ receiver, escalate: root.escalate }];
}
