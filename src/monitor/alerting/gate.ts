/**
 * The alerting policy between suppression (silences, acks) and delivery: the
 * one point where AlertCenter hands an alert over (docs/monitor.md,
 * "Alerting for large fleets"). In order:
 *
 * 1. A recovery of a problem that was held (unreachable, in downtime) is not
 *    sent: nobody was told of the problem.
 * 2. A problem inside a scheduled downtime is held (recorded, not notified);
 *    if still open when the window ends it is raised again then.
 * 3. A problem matching an inhibition rule while the rule's source problem is
 *    open on the same host (or the configured labels) is dropped.
 * 4. Everything else joins its group (group.by labels) and is sent when the
 *    group is due (group.waitMs after its first alert, at least
 *    group.intervalMs after the group was last sent); alerts of hosts that
 *    have parents wait at least dependencies.holdMs, so that a parent's failure
 *    is known before its children's alerts go out. When the group is sent, a
 *    problem whose parent is down or critical is held as unreachable instead,
 *    and the parent's own alert counts them.
 * 5. When a parent recovers, its children still bad after
 *    dependencies.recoveryGraceMs are raised again and alert on their own.
 * 6. A receiver that got rateLimitPerMinute messages this minute gets the rest
 *    as one summary at the start of the next minute.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../../log/index.js";
import { parseStatusPresence } from "../../protocol/index.js";
import type { Keys, Redis } from "../../store/index.js";
import type { Element } from "../../xmpp/index.js";
import type { AlertSink, DispatchGate, GateDecision } from "../alerts/center.js";
import { problemKey } from "../alerts/problems.js";
import { type AlertRecord, alertFields, alertMessage, isRecovery } from "../alerts/record.js";
import { Renotifier } from "../alerts/renotify.js";
import { inOrderByKey } from "../in-order.js";
import { DependencyMap } from "./dependencies.js";
import { DowntimeStore, downtimeCovers } from "./downtime.js";
import { FreshnessSweeper } from "./freshness.js";
import { GroupQueue, groupKey } from "./groups.js";
import { AlertingKeys } from "./keys.js";
import { hostMatches } from "./match.js";
import { groupMessage, rateSummary, withDependants } from "./messages.js";
import { type EscalationStep, type RouteTarget, routeAlert } from "./routing.js";
import type { AlertingSettings, InhibitRule } from "./settings.js";

export interface HeldAlert {
  reason: "unreachable" | "downtime";
  /** unreachable: the parent that is down or critical. */
  parent?: string;
  /** downtime: the window's id. */
  downtime?: string;
  alert: AlertRecord;
  at: number;
}

export interface AlertGateOptions {
  redis: Redis;
  keys: Keys;
  log: Logger;
  settings: AlertingSettings;
  outboxMax: number;
  /** The sinks of each configured receiver (buildReceivers). */
  receivers?: Map<string, AlertSink[]>;
  /** The clock of the rate limit's minutes (tests). */
  now?: () => number;
  /** A check of this host went stale (freshness): the monitor rescores the host. */
  onCheckStale?: (jid: string) => void;
}

/** An escalation waiting for its next step (the problem is still unacknowledged). */
interface PendingEscalation {
  alert: AlertRecord;
  message: string;
  steps: EscalationStep[];
  next: number;
  firstAt: number;
}

type Deliver = (alert: AlertRecord, message: string, sinks?: AlertSink[]) => Promise<void>;

/** The receiver a rate limit counts for: every sink together (one routing receiver). */
const RECEIVER = "default";

export class AlertGate implements DispatchGate {
  readonly downtimes: DowntimeStore;
  readonly dependencies: DependencyMap;
  readonly #o: AlertGateOptions;
  readonly #akeys: AlertingKeys;
  readonly #groups: GroupQueue;
  readonly #current: Renotifier;
  readonly #freshness: FreshnessSweeper;
  /** An inhibition rule compares different hosts (equal on labels other than the JID). */
  readonly #crossHostInhibition: boolean;
  #deliver: Deliver | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;

  constructor(options: AlertGateOptions) {
    this.#o = options;
    this.#akeys = new AlertingKeys(options.keys.prefix);
    this.downtimes = new DowntimeStore(options.redis, this.#akeys);
    this.dependencies = new DependencyMap(
      options.redis,
      options.keys,
      this.#akeys,
      options.settings.dependencies.rules,
    );
    this.#groups = new GroupQueue(options.redis, this.#akeys);
    this.#crossHostInhibition = options.settings.inhibit.some(
      (rule) => rule.equal.length > 0 && !rule.equal.includes("jid"),
    );
    this.#freshness = new FreshnessSweeper(
      options.redis,
      options.keys,
      options.log,
      options.outboxMax,
      options.onCheckStale,
    );
    // Only its stillCurrent() is used: is a held problem still a problem?
    this.#current = new Renotifier({
      redis: options.redis,
      keys: options.keys,
      log: options.log,
      intervalMs: 0,
      outboxMax: options.outboxMax,
    });
  }

  start(deliver: Deliver): void {
    this.#deliver = deliver;
    this.#timer = setInterval(() => void this.tick(), this.#o.settings.tickMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    while (this.#ticking) await new Promise((r) => setTimeout(r, 20));
  }

  /** A status presence: remember the parents it declares (docs/protocol.md, `depends`). */
  async onPresence(stanza: Element): Promise<void> {
    const from = String(stanza.attrs.from ?? "");
    if (stanza.attrs.type !== undefined || !from.includes("@")) return;
    if (!stanza.getChild("x", "urn:jabmon:0")) return;
    const { status } = parseStatusPresence(stanza);
    await this.dependencies.declare(from.split("/")[0] as string, status.dependsOn ?? []);
  }

  /** Problems held now (unreachable or in downtime), for the API and RPC. */
  async held(): Promise<Array<HeldAlert & { key: string }>> {
    const all = await this.#o.redis.hgetall(this.#akeys.held());
    return Object.entries(all).map(([key, raw]) => ({ key, ...(JSON.parse(raw) as HeldAlert) }));
  }

  /**
   * The host (its bare JID): what admit() reads and writes is the alert's own
   * problem's, and an inhibition looks at the same host's problems. An
   * inhibition rule equal on other labels compares hosts with each other: then
   * every alert is admitted in outbox order (one scope).
   */
  orderScope(alert: AlertRecord): string {
    return this.#crossHostInhibition ? "" : alert.jid.toLowerCase();
  }

  async admit(alert: AlertRecord): Promise<GateDecision | undefined> {
    return isRecovery(alert) ? this.#admitRecovery(alert) : this.#admitProblem(alert);
  }

  async #admitRecovery(alert: AlertRecord): Promise<GateDecision | undefined> {
    const { redis } = this.#o;
    const key = problemKey(alert);
    const host = alert.kind === "host";
    // Independent, so sent together: one round trip.
    const [heldRaw, inGrace, children] = await Promise.all([
      redis.hget(this.#akeys.held(), key),
      host ? redis.hexists(this.#akeys.grace(), key) : 0,
      host ? redis.scard(this.#akeys.children(alert.jid.toLowerCase())) : 0,
      this.#endEscalation(key),
    ]);
    if (inGrace === 1) {
      // Back within its grace: its down (still in its group) is dropped too.
      await redis.hset(this.#akeys.grace(), key, "recovered");
      return { suppressed: "grace", reason: "back within its host-down grace" };
    }
    if (children > 0) await this.#parentRecovered(alert.jid);
    const held = heldRaw ? (JSON.parse(heldRaw) as HeldAlert) : undefined;
    if (held) {
      await this.#release(key, held);
      return { suppressed: held.reason, reason: `recovered while ${held.reason}` };
    }
    return this.#toGroup(alert, key, false);
  }

  async #admitProblem(alert: AlertRecord): Promise<GateDecision | undefined> {
    const key = problemKey(alert);
    // Independent reads, sent together: one round trip.
    const [heldRaw, downtime, parents, isParent] = await Promise.all([
      this.#o.redis.hget(this.#akeys.held(), key),
      this.downtimes.covering(alert),
      this.dependencies.parentsOf(alert),
      this.dependencies.isParent(alert),
    ]);
    const held = heldRaw ? (JSON.parse(heldRaw) as HeldAlert) : undefined;
    if (held) return { suppressed: held.reason, reason: describeHeld(held) };
    if (downtime) {
      const entry: HeldAlert = {
        reason: "downtime",
        downtime: downtime.id,
        alert,
        at: Date.now(),
      };
      await this.#hold(key, entry);
      return { suppressed: "downtime", reason: describeHeld(entry, downtime.comment) };
    }
    const inhibitor = await this.#inhibitor(alert);
    if (inhibitor) return { suppressed: "inhibited", reason: `inhibited by ${inhibitor}` };
    const related = parents.length > 0 || isParent;
    if (related && this.#waitMs(alert, related) <= 0) {
      // No hold configured: a child of a parent already bad is unreachable at once.
      const bad = await this.dependencies.badParent(parents);
      if (bad) {
        const entry: HeldAlert = { reason: "unreachable", parent: bad, alert, at: Date.now() };
        await this.#hold(key, entry);
        return { suppressed: "unreachable", reason: describeHeld(entry) };
      }
    }
    return this.#toGroup(alert, key, related);
  }

  /** How long the alert waits in its group: a host with parents or children waits for the others. */
  #waitMs(alert: AlertRecord, related: boolean): number {
    const { group, dependencies } = this.#o.settings;
    const wait = related ? Math.max(group.waitMs, dependencies.holdMs) : group.waitMs;
    return Math.max(wait, this.#graceMs(alert));
  }

  /** Into its group, or (no wait) sent at once. */
  async #toGroup(
    alert: AlertRecord,
    key: string,
    related: boolean,
  ): Promise<GateDecision | undefined> {
    const { group } = this.#o.settings;
    const wait = this.#waitMs(alert, related);
    if (this.#graceMs(alert) > 0) await this.#o.redis.hset(this.#akeys.grace(), key, "pending");
    if (wait <= 0) {
      // At once, one message per alert, as without a policy, unless routed or rate limited here.
      if (!this.#routing() && this.#o.settings.rateLimitPerMinute <= 0) return undefined;
      const receivers = await this.#send(alert, alertMessage(alert), [alert]);
      return { suppressed: "routed", reason: `sent to ${receivers.join(", ")}` };
    }
    const gkey = groupKey(alert, group.by);
    await this.#groups.add(gkey, alert, wait, group.intervalMs);
    return { suppressed: "grouped", reason: `group ${gkey}, sent within ${wait} ms` };
  }

  /** One round: stale results, due groups, parents' recoveries, downtime ends, rate summaries. */
  async tick(): Promise<void> {
    if (this.#ticking || !this.#deliver) return;
    this.#ticking = true;
    try {
      await this.#freshness.sweep();
      for (const g of await this.#groups.takeDue()) await this.#sendGroup(g.alerts);
      await this.#recheckChildren();
      await this.#downtimeEnds();
      await this.#rateSummaries();
      await this.#escalate();
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, "alerting round failed");
    } finally {
      this.#ticking = false;
    }
  }

  // --- groups and dependencies ---

  async #sendGroup(group: AlertRecord[]): Promise<void> {
    // In dispatch order: the alerts of different hosts are admitted at once.
    const alerts = [...group].sort(byNumber);
    const keep = new Set<AlertRecord>();
    // Each host's alerts in order (its grace mark is read and cleared), the hosts at once.
    await inOrderByKey(
      alerts,
      (alert) => alert.jid.toLowerCase(),
      async (alert) => {
        if (await this.#stillToSend(alert)) keep.add(alert);
      },
    );
    const send = alerts.filter((alert) => keep.has(alert));
    if (send.length === 0) return;
    const { listMax } = this.#o.settings.group;
    const annotated = await Promise.all(
      send.map(async (alert) => withDependants(alert, await this.#dependants(alert), listMax)),
    );
    if (annotated.length === 1) {
      const only = annotated[0] as AlertRecord;
      await this.#send(only, alertMessage(only), [only]);
      return;
    }
    const first = annotated[0] as AlertRecord;
    const message = groupMessage(annotated, listMax);
    await this.#send(
      {
        id: `group-${randomUUID()}`,
        kind: first.kind,
        jid: "",
        host: `${new Set(annotated.map((a) => a.jid)).size} hosts`,
        check: first.check,
        state: first.state,
        previous: "",
        text: message,
        time: Date.now(),
      },
      message,
      annotated,
    );
  }

  /**
   * False for an alert not to send after all: a host down whose host came
   * back within its grace, or a problem whose parent is down or critical now
   * (held as unreachable, counted in the parent's alert).
   */
  async #stillToSend(alert: AlertRecord): Promise<boolean> {
    if (!(await this.#outlivedGrace(alert))) return false;
    if (isRecovery(alert)) return true;
    const bad = await this.dependencies.badParent(await this.dependencies.parentsOf(alert));
    if (!bad) return true;
    await this.#hold(problemKey(alert), {
      reason: "unreachable",
      parent: bad,
      alert,
      at: Date.now(),
    });
    return false;
  }

  /** A host down of a host with a grace (hostDownGrace), or 0. */
  #graceMs(alert: AlertRecord): number {
    if (alert.kind !== "host" || alert.state !== "down") return 0;
    const rule = this.#o.settings.hostDownGrace.find((r) => hostMatches(r.hosts, alert));
    return rule?.graceMs ?? 0;
  }

  /** False for a host down whose host came back within its grace (drop it). */
  async #outlivedGrace(alert: AlertRecord): Promise<boolean> {
    if (this.#graceMs(alert) === 0) return true;
    const { redis } = this.#o;
    const key = problemKey(alert);
    const mark = await redis.hget(this.#akeys.grace(), key);
    await redis.hdel(this.#akeys.grace(), key);
    if (mark === "recovered") return false;
    return this.#current.stillCurrent(alert);
  }

  /** The hosts held unreachable because `alert`'s host (a parent) is down or critical. */
  async #dependants(alert: AlertRecord): Promise<string[]> {
    if (isRecovery(alert) || (alert.kind !== "host" && alert.kind !== "score")) return [];
    const { redis } = this.#o;
    const keys = await redis.smembers(this.#akeys.children(alert.jid.toLowerCase()));
    if (keys.length === 0) return [];
    const raws = await redis.hmget(this.#akeys.held(), ...keys);
    const names = new Set<string>();
    for (const raw of raws) {
      if (!raw) continue;
      const h = JSON.parse(raw) as HeldAlert;
      names.add(h.alert.host || h.alert.jid);
    }
    return [...names].sort();
  }

  async #hold(key: string, entry: HeldAlert): Promise<void> {
    const { redis } = this.#o;
    const pipeline = redis.multi().hset(this.#akeys.held(), key, JSON.stringify(entry));
    if (entry.parent) pipeline.sadd(this.#akeys.children(entry.parent), key);
    await pipeline.exec();
  }

  /** Forget a held problem; true if this instance removed it (so it acts on it once). */
  async #release(key: string, held: HeldAlert): Promise<boolean> {
    const { redis } = this.#o;
    const pipeline = redis.multi().hdel(this.#akeys.held(), key);
    if (held.parent) pipeline.srem(this.#akeys.children(held.parent), key);
    const replies = (await pipeline.exec()) ?? [];
    return replies[0]?.[1] === 1;
  }

  async #parentRecovered(jid: string): Promise<void> {
    const { redis, settings } = this.#o;
    const parent = jid.toLowerCase();
    if ((await redis.scard(this.#akeys.children(parent))) === 0) return;
    await redis.zadd(
      this.#akeys.recheck(),
      Date.now() + settings.dependencies.recoveryGraceMs,
      parent,
    );
  }

  /** Children of recovered parents: those still bad alert on their own. */
  async #recheckChildren(): Promise<void> {
    const { redis } = this.#o;
    const due = await redis.zrangebyscore(this.#akeys.recheck(), "-inf", Date.now());
    for (const parent of due) {
      if ((await redis.zrem(this.#akeys.recheck(), parent)) !== 1) continue; // another instance
      if (await this.dependencies.badParent([parent])) continue; // down again: still unreachable
      const keys = await redis.smembers(this.#akeys.children(parent));
      for (const key of keys) {
        const raw = await redis.hget(this.#akeys.held(), key);
        if (!raw) {
          await redis.srem(this.#akeys.children(parent), key);
          continue;
        }
        const held = JSON.parse(raw) as HeldAlert;
        if (!(await this.#release(key, held))) continue;
        if (await this.#current.stillCurrent(held.alert))
          await this.#raiseAgain(held.alert, `still ${held.alert.state} after ${parent} recovered`);
      }
    }
  }

  // --- downtime ---

  async #downtimeEnds(): Promise<void> {
    const now = Date.now();
    const held = (await this.held()).filter((h) => h.reason === "downtime");
    if (held.length === 0) return;
    const active = await this.downtimes.list(now);
    for (const h of held) {
      if (active.some((d) => downtimeCovers(d, h.alert, now))) continue;
      if (!(await this.#release(h.key, h))) continue;
      if (await this.#current.stillCurrent(h.alert))
        await this.#raiseAgain(
          h.alert,
          `still ${h.alert.state} at the end of downtime ${h.downtime}`,
        );
    }
  }

  /** Write a held problem to the outbox again, as a new alert (it is dispatched like any). */
  async #raiseAgain(alert: AlertRecord, why: string): Promise<void> {
    const { num: _num, renotify: _r, since: _s, ...rest } = alert;
    await this.#o.redis.xadd(
      this.#o.keys.alertOutbox(),
      "MAXLEN",
      "~",
      this.#o.outboxMax,
      "*",
      ...alertFields({
        ...rest,
        id: randomUUID(),
        time: Date.now(),
        text: `${alert.text} (${why})`,
      }),
    );
  }

  // --- inhibition ---

  async #inhibitor(alert: AlertRecord): Promise<string | undefined> {
    const rules = this.#o.settings.inhibit.filter((r) => matchesSide(r.target, alert));
    if (rules.length === 0) return undefined;
    const { redis, keys } = this.#o;
    const open = await redis.hgetall(keys.openProblems());
    for (const raw of Object.values(open)) {
      const latest = (JSON.parse(raw) as { alert?: AlertRecord }).alert;
      if (!latest || isRecovery(latest) || latest.id === alert.id) continue;
      const rule = rules.find((r) => matchesSide(r.source, latest) && equalOn(r, latest, alert));
      if (rule)
        return `${latest.kind} ${latest.check || latest.host} ${latest.state} on ${latest.host || latest.jid}`;
    }
    return undefined;
  }

  // --- routing, escalation, rate limit ---

  #now(): number {
    return this.#o.now ? this.#o.now() : Date.now();
  }

  #routing(): boolean {
    return this.#o.settings.route !== undefined && this.#o.settings.receivers.length > 0;
  }

  /**
   * Send a message (one alert's, or a group's with its `members`) to the
   * receivers the routing tree picks, and schedule their escalations. Without
   * routing, to the alert center's own sinks. Returns the receivers' names.
   */
  async #send(alert: AlertRecord, message: string, members: AlertRecord[]): Promise<string[]> {
    const route = this.#o.settings.route;
    if (!route || !this.#routing()) {
      await this.#limited(RECEIVER, undefined, alert, message);
      return [RECEIVER];
    }
    const targets = routeAlert(route, members[0] ?? alert);
    for (const target of targets) {
      const sinks = this.#o.receivers?.get(target.receiver) ?? [];
      await this.#limited(target.receiver, sinks, alert, message);
      for (const member of members) await this.#startEscalation(member, target);
    }
    return targets.map((t) => t.receiver);
  }

  async #limited(
    receiver: string,
    sinks: AlertSink[] | undefined,
    alert: AlertRecord,
    message: string,
  ): Promise<void> {
    const limit = this.#o.settings.rateLimitPerMinute;
    if (limit > 0) {
      const { redis } = this.#o;
      const counter = this.#akeys.rate(receiver, Math.floor(this.#now() / 60_000));
      const count = await redis.incr(counter);
      if (count === 1) await redis.expire(counter, 180);
      if (count > limit) {
        await redis
          .multi()
          .rpush(`${counter}:dropped`, JSON.stringify(alert))
          .expire(`${counter}:dropped`, 180)
          .exec();
        return;
      }
    }
    await (this.#deliver as Deliver)(alert, message, sinks);
  }

  /** Each receiver's alerts over last minute's limit, as one summary. */
  async #rateSummaries(): Promise<void> {
    const limit = this.#o.settings.rateLimitPerMinute;
    if (limit <= 0) return;
    const { redis, settings } = this.#o;
    const minute = Math.floor(this.#now() / 60_000) - 1;
    const receivers = this.#routing() ? settings.receivers.map((r) => r.name) : [RECEIVER];
    for (const receiver of receivers) {
      const dropped = `${this.#akeys.rate(receiver, minute)}:dropped`;
      const replies = (await redis.multi().lrange(dropped, 0, -1).del(dropped).exec()) ?? [];
      const raws = (replies[0]?.[1] ?? []) as string[];
      if (raws.length === 0) continue;
      const alerts = raws.map((r) => JSON.parse(r) as AlertRecord);
      const message = rateSummary(alerts, limit, settings.group.listMax);
      const summary: AlertRecord = {
        id: `rate-${randomUUID()}`,
        kind: alerts[0]?.kind ?? "check",
        jid: "",
        host: "",
        check: "",
        state: "summary",
        previous: "",
        text: message,
        time: Date.now(),
      };
      await (this.#deliver as Deliver)(summary, message, this.#o.receivers?.get(receiver));
    }
  }

  async #startEscalation(alert: AlertRecord, target: RouteTarget): Promise<void> {
    if (target.escalate.length === 0 || isRecovery(alert) || alert.renotify) return;
    const { redis } = this.#o;
    const key = problemKey(alert);
    const now = Date.now();
    const pending: PendingEscalation = {
      alert,
      message: alertMessage(alert),
      steps: target.escalate,
      next: 0,
      firstAt: now,
    };
    await redis
      .multi()
      .hset(this.#akeys.escalationData(), key, JSON.stringify(pending))
      .zadd(this.#akeys.escalations(), now + (target.escalate[0]?.afterMs ?? 0), key)
      .exec();
  }

  async #endEscalation(key: string): Promise<void> {
    await this.#o.redis
      .multi()
      .zrem(this.#akeys.escalations(), key)
      .hdel(this.#akeys.escalationData(), key)
      .exec();
  }

  /** Due steps of problems still open and unacknowledged go to their next receiver. */
  async #escalate(): Promise<void> {
    if (!this.#routing()) return;
    const { redis, keys } = this.#o;
    // Up to one tick early: steps due within a tick of each other go out together.
    const due = await redis.zrangebyscore(
      this.#akeys.escalations(),
      "-inf",
      Date.now() + this.#o.settings.tickMs,
      "LIMIT",
      0,
      200,
    );
    const batches = new Map<
      string,
      { receiver: string; step: number; items: PendingEscalation[] }
    >();
    for (const key of due) {
      if ((await redis.zrem(this.#akeys.escalations(), key)) !== 1) continue; // another instance
      const raw = await redis.hget(this.#akeys.escalationData(), key);
      if (!raw) continue;
      const pending = JSON.parse(raw) as PendingEscalation;
      const problem = await redis.hget(keys.openProblems(), key);
      const acknowledged = problem
        ? (JSON.parse(problem) as { acknowledged?: boolean }).acknowledged
        : true;
      if (acknowledged || !(await this.#current.stillCurrent(pending.alert))) {
        await redis.hdel(this.#akeys.escalationData(), key);
        continue;
      }
      const step = pending.steps[pending.next] as EscalationStep;
      // Steps due together for one receiver go out as one message (a storm escalates once).
      const batchKey = `${step.receiver}|${pending.next}`;
      const batch = batches.get(batchKey) ?? {
        receiver: step.receiver,
        step: pending.next,
        items: [],
      };
      batch.items.push(pending);
      batches.set(batchKey, batch);
      const following = pending.steps[pending.next + 1];
      if (!following) {
        await redis.hdel(this.#akeys.escalationData(), key);
        continue;
      }
      pending.next += 1;
      await redis
        .multi()
        .hset(this.#akeys.escalationData(), key, JSON.stringify(pending))
        .zadd(this.#akeys.escalations(), pending.firstAt + following.afterMs, key)
        .exec();
    }
    for (const batch of batches.values()) await this.#sendEscalation(batch);
  }

  async #sendEscalation(batch: {
    receiver: string;
    step: number;
    items: PendingEscalation[];
  }): Promise<void> {
    const first = batch.items[0] as PendingEscalation;
    const minutes = Math.round((Date.now() - first.firstAt) / 60_000);
    const head = `ESCALATION (step ${batch.step + 2}, unacknowledged for ${minutes} min)`;
    const sinks = this.#o.receivers?.get(batch.receiver) ?? [];
    if (batch.items.length === 1) {
      await this.#limited(batch.receiver, sinks, first.alert, `${head}: ${first.message}`);
      return;
    }
    const alerts = batch.items.map((p) => p.alert);
    const message = `${head}: ${groupMessage(alerts, this.#o.settings.group.listMax)}`;
    await this.#limited(
      batch.receiver,
      sinks,
      {
        ...first.alert,
        id: `escalation-${randomUUID()}`,
        jid: "",
        host: `${alerts.length} problems`,
        text: message,
      },
      message,
    );
  }
}

/** By dispatch number (outbox order); alerts without one keep their place after those with. */
function byNumber(a: AlertRecord, b: AlertRecord): number {
  return (a.num ?? Number.MAX_SAFE_INTEGER) - (b.num ?? Number.MAX_SAFE_INTEGER);
}

function describeHeld(held: HeldAlert, comment = ""): string {
  return held.reason === "unreachable"
    ? `unreachable: ${held.parent} is down or critical`
    : `downtime ${held.downtime}${comment ? `: ${comment}` : ""}`;
}

function matchesSide(side: InhibitRule["source"], alert: AlertRecord): boolean {
  return (
    (side.kind === undefined || side.kind === alert.kind) &&
    (side.check === undefined || side.check === alert.check) &&
    (side.state === undefined || side.state === alert.state)
  );
}

function equalOn(rule: InhibitRule, a: AlertRecord, b: AlertRecord): boolean {
  const labels = rule.equal.length > 0 ? rule.equal : (["jid"] as const);
  return labels.every((l) => String(a[l] ?? "").toLowerCase() === String(b[l] ?? "").toLowerCase());
}
