/**
 * Alert dispatch: reads the alert outbox (written atomically with the state
 * changes that cause alerts), applies silences and acknowledgements, records
 * the alert in its open problem (src/monitor/alerts/problems.ts), logs the outcome and
 * hands each alert to the sinks (XMPP admins and MUC room, the
 * `alerts` pubsub node, webhooks). Several instances share the outbox through
 * a consumer group; an instance's unacknowledged alerts are claimed by another
 * after `claimIdleMs`, so delivery is at-least-once.
 *
 * A batch read from the outbox is dispatched by order scope (by default one
 * host, see DispatchGate.orderScope): the alerts of one scope one after the
 * other, in outbox order, the scopes at once. What every alert of a batch
 * needs (the silences, the acknowledgements, its number) is read in one round
 * trip first; each alert is acknowledged in the outbox only once fully
 * dispatched, so a crash re-dispatches at most the alerts in flight.
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "../../log/index.js";
import { globMatch } from "../../protocol/index.js";
import { type Keys, pipelineReply, type Redis } from "../../store/index.js";
import { inOrderByKey } from "../in-order.js";
import { RetryOutbox, type RetryPolicy } from "./outbox.js";
import { ProblemIndex } from "./problems.js";
import {
  type AlertRecord,
  alertFields,
  alertFromFields,
  alertMessage,
  isRecovery,
} from "./record.js";
import { Renotifier } from "./renotify.js";

export const DISPATCH_GROUP = "dispatch";

/**
 * Where dispatched alerts go. `deliver` resolves once the alert is handed on
 * for good (written to a live link, queued in Redis) and throws otherwise; a
 * failed alert waits in the sink's durable retry outbox (src/monitor/alerts/outbox.ts).
 * One sink's failure never blocks the others.
 */
export interface AlertSink {
  readonly name: string;
  deliver(alert: AlertRecord, message: string): Promise<void>;
}

export interface Silence {
  /** A short decimal number (INCR `silences:seq`), as a string: "unsilence 3". */
  id: string;
  /**
   * Glob (`*`, `?`) on the host's bare JID, its local part, its host name or
   * the host name's first label (as `hosts.list`): `web*`, `web01`, `*@dc2.example.org`.
   */
  host: string;
  /** Glob on the check (or backup job) name; `*` matches host-level alerts too. */
  check: string;
  comment: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
}

export interface Acknowledgement {
  jid: string;
  /** Empty for the host itself (down and score alerts). */
  check: string;
  by: string;
  comment: string;
  at: number;
}

export interface DispatchedAlert extends AlertRecord {
  message: string;
  /** Every sink took it at once; see `deferred` for those that will retry. */
  delivered: boolean;
  /** Sinks that could not take it now: it waits in their retry outbox. */
  deferred?: string[];
  /**
   * `resolved`: a re-notification whose problem is no longer current. The
   * others are the alerting policy's (DispatchGate): held in a downtime or as
   * unreachable, inhibited, or waiting in its group (sent with it later).
   */
  suppressed?: "silenced" | "acknowledged" | "resolved" | GateDecision["suppressed"];
  reason?: string;
}

/** Why the alerting policy does not deliver an alert now. */
export interface GateDecision {
  /** `routed`: sent by the policy itself, to the receivers its routing tree chose. */
  suppressed: "downtime" | "unreachable" | "inhibited" | "grouped" | "routed" | "grace";
  reason: string;
}

/**
 * The alerting policy between suppression and delivery (src/monitor/alerting):
 * it may hold an alert and deliver it, or a message for several, later.
 */
export interface DispatchGate {
  admit(alert: AlertRecord): Promise<GateDecision | undefined>;
  /**
   * Alerts with the same scope are admitted one after the other, in outbox
   * order; alerts of different scopes may be admitted at once. Without it, the
   * scope is the host (its bare JID).
   */
  orderScope?(alert: AlertRecord): string;
  /** `deliver` sends to `sinks`, or to the center's own sinks when none are given. */
  start(deliver: (alert: AlertRecord, message: string, sinks?: AlertSink[]) => Promise<void>): void;
  stop(): Promise<void>;
}

export interface AlertCenterEvents {
  dispatched: [alert: DispatchedAlert];
}

export interface AlertCenterOptions {
  redis: Redis;
  keys: Keys;
  log: Logger;
  instanceId: string;
  sinks?: AlertSink[];
  /** Alert log length kept (approximate). */
  logLength?: number;
  outboxMax?: number;
  claimIdleMs?: number;
  /** Re-notify an unacknowledged problem this often (ms); 0 disables. */
  renotifyMs?: number;
  /** Where dispatched alerts are recorded as open problems; by default one on `redis`. */
  problems?: ProblemIndex;
  /** Retry of alerts a sink could not take at once (backoff, give-up time). */
  retry?: Partial<RetryPolicy>;
  /** The alerting policy (grouping, dependencies, downtime); none delivers every alert at once. */
  gate?: DispatchGate;
}

/** Host globs of the alerting policy use the linear-time matcher too (no backtracking). */

export function silenceMatches(silence: Silence, alert: AlertRecord, now = Date.now()): boolean {
  if (silence.expiresAt <= now) return false;
  const names = [
    alert.jid,
    alert.jid.split("@")[0] ?? "",
    alert.host,
    alert.host.split(".")[0] ?? "",
  ];
  if (!names.some((name) => name && globMatch(silence.host, name))) return false;
  return globMatch(silence.check, alert.check);
}

const ackField = (jid: string, check: string) => `${jid.toLowerCase()}|${check}`;

/** What every alert of one outbox batch needs, read once for the batch. */
interface BatchContext {
  silences: Silence[];
  /** The ack fields (ackField) present among the batch's alerts' targets. */
  acked: Set<string>;
}

/** One outbox row: its stream id and its alert (none for a row deleted under us). */
interface OutboxRow {
  id: string;
  alert: AlertRecord | undefined;
}
/** What an acknowledgement of this alert is keyed by: its check, or "" for the host itself. */
export const ackTarget = (alert: Pick<AlertRecord, "kind" | "check">) =>
  alert.kind === "host" || alert.kind === "score" ? "" : alert.check;

export class AlertCenter extends EventEmitter<AlertCenterEvents> {
  readonly #o: Required<Omit<AlertCenterOptions, "sinks" | "problems" | "retry" | "gate">>;
  readonly #retry: RetryOutbox;
  readonly #gate: DispatchGate | undefined;
  readonly #sinks: AlertSink[];
  readonly #reader: Redis;
  readonly #problems: ProblemIndex;
  readonly #renotifier: Renotifier;
  readonly #scope: (alert: AlertRecord) => string;
  #running = false;
  #loop: Promise<void> | undefined;
  #lastClaim = 0;

  constructor(options: AlertCenterOptions) {
    super();
    this.#o = {
      logLength: 1000,
      outboxMax: 100_000,
      claimIdleMs: 30_000,
      renotifyMs: 0,
      ...options,
    };
    this.#sinks = [...(options.sinks ?? [])];
    this.#retry = new RetryOutbox({
      redis: options.redis,
      keys: options.keys,
      log: options.log.child({ part: "alert-retry" }),
      policy: options.retry,
    });
    for (const sink of this.#sinks) this.#retry.register(sink);
    this.#gate = options.gate;
    const gate = options.gate;
    this.#scope = gate?.orderScope
      ? (alert) => (gate.orderScope as (a: AlertRecord) => string).call(gate, alert)
      : (alert) => alert.jid.toLowerCase();
    this.#reader = options.redis.duplicate();
    this.#reader.on("error", () => {});
    this.#problems =
      options.problems ??
      new ProblemIndex({
        redis: options.redis,
        keys: options.keys,
        renotifyMs: this.#o.renotifyMs,
      });
    this.#renotifier = new Renotifier({
      redis: options.redis,
      keys: options.keys,
      log: options.log,
      intervalMs: this.#o.renotifyMs,
      outboxMax: this.#o.outboxMax,
    });
  }

  /** The open problems, as dispatched alerts left them. */
  get problems(): ProblemIndex {
    return this.#problems;
  }

  addSink(sink: AlertSink): void {
    this.#sinks.push(sink);
    this.#retry.register(sink);
  }

  /** The durable retry outbox of the sinks (pending counts, dead letters). */
  get retry(): RetryOutbox {
    return this.#retry;
  }

  /** Retry deferred alerts now, e.g. when the component's link is back. */
  retryNow(): void {
    this.#retry.kick();
  }

  // --- silences ---

  async addSilence(input: {
    host: string;
    check?: string;
    comment?: string;
    createdBy?: string;
    /** Either a duration or an absolute expiry (ms). */
    durationMs?: number;
    expiresAt?: number;
  }): Promise<Silence> {
    const now = Date.now();
    const expiresAt = input.expiresAt ?? now + (input.durationMs ?? 3_600_000);
    if (!input.host) throw new Error("a silence needs a host pattern");
    if (!(expiresAt > now)) throw new Error("a silence must expire in the future");
    const silence: Silence = {
      id: String(await this.#o.redis.incr(this.#o.keys.silenceSeq())),
      host: input.host,
      check: input.check ?? "*",
      comment: input.comment ?? "",
      createdBy: input.createdBy ?? "",
      createdAt: now,
      expiresAt,
    };
    await this.#o.redis.hset(this.#o.keys.silences(), silence.id, JSON.stringify(silence));
    return silence;
  }

  /** Active silences; expired ones are removed on the way. */
  async listSilences(now = Date.now()): Promise<Silence[]> {
    return this.#activeSilences(await this.#o.redis.hgetall(this.#o.keys.silences()), now);
  }

  /** The active silences of a `silences` hash, oldest first; removes the expired ones. */
  async #activeSilences(all: Record<string, string>, now: number): Promise<Silence[]> {
    const active: Silence[] = [];
    const expired: string[] = [];
    for (const [id, raw] of Object.entries(all)) {
      const s = JSON.parse(raw) as Silence;
      if (s.expiresAt > now) active.push(s);
      else expired.push(id);
    }
    if (expired.length > 0) await this.#o.redis.hdel(this.#o.keys.silences(), ...expired);
    return active.sort((a, b) => a.createdAt - b.createdAt);
  }

  async removeSilence(id: string): Promise<boolean> {
    return (await this.#o.redis.hdel(this.#o.keys.silences(), id)) === 1;
  }

  // --- acknowledgements ---

  /**
   * Acknowledge a problem: no more notifications for it until it recovers. It
   * stays among the open problems, without reminders.
   */
  async acknowledge(jid: string, check = "", by = "", comment = ""): Promise<Acknowledgement> {
    const ack: Acknowledgement = { jid: jid.toLowerCase(), check, by, comment, at: Date.now() };
    await this.#o.redis.hset(this.#o.keys.acks(), ackField(jid, check), JSON.stringify(ack));
    await this.#problems.acknowledge(jid, check);
    return ack;
  }

  /** Withdraw an acknowledgement: the problem is notified and reminded of again. */
  async unacknowledge(jid: string, check = ""): Promise<boolean> {
    const removed = (await this.#o.redis.hdel(this.#o.keys.acks(), ackField(jid, check))) === 1;
    if (removed) await this.#problems.unacknowledge(jid, check);
    return removed;
  }

  async listAcks(): Promise<Acknowledgement[]> {
    const all = await this.#o.redis.hgetall(this.#o.keys.acks());
    return Object.values(all).map((raw) => JSON.parse(raw) as Acknowledgement);
  }

  /** Recent dispatched alerts, newest first. */
  async recent(count = 50): Promise<DispatchedAlert[]> {
    const rows = (await this.#o.redis.xrevrange(
      this.#o.keys.alertLog(),
      "+",
      "-",
      "COUNT",
      count,
    )) as Array<[string, string[]]>;
    return rows.map(([, fields]) => {
      const base = alertFromFields(fields);
      const m: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2)
        m[fields[i] as string] = fields[i + 1] as string;
      const d: DispatchedAlert = {
        ...base,
        message: m.message ?? "",
        delivered: m.delivered === "1",
      };
      if (m.suppressed) d.suppressed = m.suppressed as DispatchedAlert["suppressed"];
      if (m.reason) d.reason = m.reason;
      if (m.deferred) d.deferred = m.deferred.split(",");
      return d;
    });
  }

  /** Put an alert into the outbox (e.g. a Nagios notification); returns its id. */
  async raise(alert: Omit<AlertRecord, "id" | "time"> & { time?: number }): Promise<string> {
    const id = randomUUID();
    await this.#o.redis.xadd(
      this.#o.keys.alertOutbox(),
      "MAXLEN",
      "~",
      this.#o.outboxMax,
      "*",
      ...alertFields({ ...alert, id, time: alert.time ?? Date.now() }),
    );
    return id;
  }

  // --- dispatch ---

  async start(): Promise<void> {
    try {
      await this.#o.redis.xgroup(
        "CREATE",
        this.#o.keys.alertOutbox(),
        DISPATCH_GROUP,
        "0",
        "MKSTREAM",
      );
    } catch (err) {
      if (!String((err as Error).message).includes("BUSYGROUP")) throw err;
    }
    this.#running = true;
    this.#loop = this.#run();
    this.#renotifier.start();
    this.#retry.start();
    this.#gate?.start((alert, message, sinks) => this.#deliverLater(alert, message, sinks));
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#renotifier.stop();
    await this.#retry.stop();
    await this.#gate?.stop();
    await this.#loop?.catch(() => {});
    this.#reader.disconnect();
  }

  async #run(): Promise<void> {
    const { keys, instanceId, log, claimIdleMs } = this.#o;
    const outbox = keys.alertOutbox();
    while (this.#running) {
      try {
        let rows: Array<[string, string[]]> = [];
        if (Date.now() - this.#lastClaim > claimIdleMs / 2) {
          this.#lastClaim = Date.now();
          const reply = (await this.#o.redis.xautoclaim(
            outbox,
            DISPATCH_GROUP,
            instanceId,
            claimIdleMs,
            "0-0",
            "COUNT",
            100,
          )) as [string, Array<[string, string[]]>];
          rows = reply[1].filter(([, f]) => f);
        }
        if (rows.length === 0) {
          const reply = (await this.#reader.xreadgroup(
            "GROUP",
            DISPATCH_GROUP,
            instanceId,
            "COUNT",
            100,
            "BLOCK",
            500,
            "STREAMS",
            outbox,
            ">",
          )) as Array<[string, Array<[string, string[]]>]> | null;
          rows = reply?.[0]?.[1] ?? [];
        }
        await this.#dispatchBatch(
          rows.map(([id, fields]) => ({ id, alert: fields ? alertFromFields(fields) : undefined })),
        );
      } catch (err) {
        log.warn({ err: (err as Error).message }, "alert dispatch round failed");
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /**
   * Dispatch one batch of outbox rows: each scope's alerts in order, the
   * scopes at once. A row is acknowledged (XACK) right after its alert is
   * dispatched; when an alert fails, the later alerts of its scope are left
   * in the outbox too (claimed again later, as the failed one), and the
   * first failure is thrown once the other scopes are done.
   */
  async #dispatchBatch(rows: OutboxRow[]): Promise<void> {
    const outbox = this.#o.keys.alertOutbox();
    const context = await this.#batchContext(rows.flatMap((row) => (row.alert ? [row.alert] : [])));
    const acks: Array<Promise<unknown>> = [];
    try {
      await inOrderByKey(
        rows,
        (row) => (row.alert ? `alert ${this.#scope(row.alert)}` : `row ${row.id}`),
        async (row) => {
          if (row.alert) await this.#dispatch(row.alert, context);
          // Sent at once and awaited with the batch: the scope's next alert need not wait for it.
          acks.push(this.#o.redis.xack(outbox, DISPATCH_GROUP, row.id));
        },
      );
    } finally {
      await Promise.all(acks);
    }
  }

  /**
   * One round trip for the whole batch: the silences, which of the alerts'
   * problems are acknowledged, and the alerts' numbers (given in outbox order).
   */
  async #batchContext(alerts: AlertRecord[]): Promise<BatchContext> {
    if (alerts.length === 0) return { silences: [], acked: new Set() };
    const { redis, keys } = this.#o;
    const targets = [...new Set(alerts.map((a) => ackField(a.jid, ackTarget(a))))];
    const unnumbered = alerts.filter((a) => a.num === undefined);
    const pipeline = redis
      .pipeline()
      .hgetall(keys.silences())
      .hmget(keys.acks(), ...targets);
    if (unnumbered.length > 0) pipeline.incrby(keys.alertSeq(), unnumbered.length);
    const replies = (await pipeline.exec()) ?? [];
    const silences = pipelineReply(replies, 0) as Record<string, string>;
    const acks = pipelineReply(replies, 1) as Array<string | null>;
    if (unnumbered.length > 0) {
      const last = Number(pipelineReply(replies, 2));
      unnumbered.forEach((alert, i) => {
        alert.num = last - unnumbered.length + 1 + i;
      });
    }
    return {
      silences: await this.#activeSilences(silences, Date.now()),
      acked: new Set(targets.filter((_, i) => acks[i] !== null)),
    };
  }

  async #dispatch(alert: AlertRecord, context: BatchContext): Promise<void> {
    const out: DispatchedAlert = { ...alert, message: alertMessage(alert), delivered: false };
    const acknowledged = await this.#suppress(alert, out, context);
    // Before delivery: whoever reads the message and lists the open problems finds its number.
    await this.#problems.record(alert, { acknowledged, resolved: out.suppressed === "resolved" });
    const held = out.suppressed ? undefined : await this.#gate?.admit(alert);
    if (held) Object.assign(out, held);
    if (!out.suppressed) await this.#deliver(alert, out);
    await this.#log(alert, out);
    this.emit("dispatched", out);
  }

  /**
   * Sets `suppressed` and `reason` on `out` (silence, ack, or a reminder whose
   * problem is over) and clears the ack of a recovery. Returns whether an ack
   * covers the alert's problem, silenced or not: an acknowledged problem is not
   * re-notified when its silence ends either. The batch's context says which
   * silences and acks there are; a cleared ack is cleared there too, for the
   * alerts of the same host later in the batch.
   */
  async #suppress(
    alert: AlertRecord,
    out: DispatchedAlert,
    context: BatchContext,
  ): Promise<boolean> {
    const { redis, keys } = this.#o;
    const now = Date.now();
    const silence = context.silences.find((s) => silenceMatches(s, alert, now));
    const target = ackField(alert.jid, ackTarget(alert));
    const acknowledged = !isRecovery(alert) && context.acked.has(target);
    if (silence) {
      out.suppressed = "silenced";
      out.reason = `silence ${silence.id}${silence.comment ? `: ${silence.comment}` : ""}`;
    } else if (isRecovery(alert)) {
      context.acked.delete(target);
      await redis.hdel(keys.acks(), target);
    } else if (acknowledged) {
      out.suppressed = "acknowledged";
    }
    if (alert.renotify && !out.suppressed && !(await this.#renotifier.stillCurrent(alert)))
      out.suppressed = "resolved";
    return acknowledged;
  }

  /** What the alerting policy sends later: one alert, or one message for several. */
  async #deliverLater(alert: AlertRecord, message: string, sinks?: AlertSink[]): Promise<void> {
    const out: DispatchedAlert = { ...alert, message, delivered: false };
    await this.#deliver(alert, out, sinks);
    await this.#log(alert, out);
    this.emit("dispatched", out);
  }

  /**
   * Hand the alert to every sink; a sink that cannot take it now gets it from
   * its retry outbox later. If even that cannot be written, this throws: the
   * alert stays unacknowledged in the outbox and is dispatched again.
   */
  async #deliver(alert: AlertRecord, out: DispatchedAlert, sinks = this.#sinks): Promise<void> {
    const failed: Array<{ sink: string; error: string }> = [];
    await Promise.all(
      sinks.map((sink) =>
        sink.deliver(alert, out.message).catch((err: Error) => {
          failed.push({ sink: sink.name, error: err.message });
        }),
      ),
    );
    for (const { sink, error } of failed) {
      this.#o.log.warn({ sink, err: error, alert: alert.id }, "alert sink failed: will retry");
      await this.#retry.defer(sink, alert, out.message, error);
    }
    out.delivered = failed.length === 0;
    if (failed.length > 0) out.deferred = failed.map((f) => f.sink);
  }

  async #log(alert: AlertRecord, out: DispatchedAlert): Promise<void> {
    const { redis, keys, log } = this.#o;
    log.info(
      {
        alert: alert.id,
        kind: alert.kind,
        jid: alert.jid,
        state: alert.state,
        suppressed: out.suppressed,
        deferred: out.deferred,
      },
      out.suppressed ? "alert suppressed" : out.delivered ? "alert sent" : "alert deferred",
    );
    const extra = ["message", out.message, "delivered", out.delivered ? "1" : "0"];
    if (out.deferred) extra.push("deferred", out.deferred.join(","));
    if (out.suppressed) extra.push("suppressed", out.suppressed, "reason", out.reason ?? "");
    await redis.xadd(
      keys.alertLog(),
      "MAXLEN",
      "~",
      this.#o.logLength,
      "*",
      ...alertFields(alert),
      ...extra,
    );
  }
}
