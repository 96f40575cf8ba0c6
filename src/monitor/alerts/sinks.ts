/**
 * Alert sinks: readable XMPP messages to admin JIDs and a MUC room (XEP-0045),
 * HTTP webhooks through a BullMQ queue (retries with capped exponential backoff
 * for a long, configured time, then a dead letter), and
 * items on the component's own `alerts` pubsub node (XEP-0060, published
 * in-process through the pubsub service).
 *
 * https://xmpp.org/extensions/xep-0045.html
 */
import { Queue, UnrecoverableError, Worker } from "bullmq";
import type { ComponentLink } from "../../component/index.js";
import type { Logger } from "../../log/index.js";
import { NS_JABMON } from "../../protocol/index.js";
import type { Redis } from "../../store/index.js";
import { type Element, el, keepRoomSeat, mucUnlock } from "../../xmpp/index.js";
import type { AlertSink } from "./center.js";
import type { AlertRecord } from "./record.js";

/** The machine-readable form of an alert, inside messages and pubsub items. */
export function alertElement(alert: AlertRecord) {
  return el(
    "alert",
    {
      xmlns: NS_JABMON,
      id: alert.id,
      num: alert.num === undefined ? undefined : String(alert.num),
      kind: alert.kind,
      jid: alert.jid,
      host: alert.host,
      check: alert.check || undefined,
      state: alert.state,
      previous: alert.previous || undefined,
      time: new Date(alert.time).toISOString(),
      renotify: alert.renotify ? String(alert.renotify) : undefined,
      since: alert.renotify ? new Date(alert.since ?? alert.time).toISOString() : undefined,
    },
    el("text", {}, alert.text),
  );
}

export interface XmppSinkOptions {
  link: ComponentLink;
  adminJids: string[];
  /** MUC room bare JID (room@conference.example); empty for none. */
  room?: string;
  nick?: string;
  log: Logger;
}

export function xmppSink(options: XmppSinkOptions): AlertSink {
  const { link, adminJids, room, log } = options;
  const nick = options.nick ?? "jabmon";
  const from = link.jid;
  if (room) {
    const seat = keepRoomSeat({
      room,
      nick,
      from,
      send: (stanza) => link.send(stanza),
      log,
      // A room we create is locked until its owner configures it (XEP-0045 §10.1.2,
      // status 201): accept the default configuration ("instant room") so people can join.
      onJoined: (codes) => {
        if (!codes.includes("201")) return;
        link.request(mucUnlock(room, {}, from)).then(
          () => log.info({ room }, "alert room created"),
          (err: Error) => log.warn({ room, err: err.message }, "cannot unlock the alert room"),
        );
      },
    });
    link.router.onPresence((stanza) => {
      seat.onPresence(stanza);
    });
    // Join (again) on every connection: the room forgets us when the link drops.
    link.onOnline(() => seat.join());
    link.onOffline(() => seat.stop());
    if (link.isOnline()) seat.join();
  }
  return {
    name: "xmpp",
    // Sent means written to a live link: while it is down this throws and the
    // alert waits in the retry outbox (admins offline get it from ejabberd's
    // mod_offline at their next login).
    async deliver(alert, message) {
      const sends = adminJids.map((to) =>
        link.sendLive(
          el("message", { from, to, type: "chat" }, el("body", {}, message), alertElement(alert)),
        ),
      );
      if (room)
        sends.push(
          link.sendLive(
            el(
              "message",
              { from, to: room, type: "groupchat" },
              el("body", {}, message),
              alertElement(alert),
            ),
          ),
        );
      await Promise.all(sends);
    },
  };
}

export interface WebhookSinkOptions {
  connection: Redis;
  prefix: string;
  url: string;
  log: Logger;
  /** First retry delay (ms); doubles per attempt up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Keep retrying this long after the alert was queued (ms), then dead-letter it. */
  retryForMs?: number;
  timeoutMs?: number;
}

export interface WebhookSink extends AlertSink {
  queue: Queue;
  /** Alerts given up on (left in BullMQ's failed set) since start. */
  readonly deadLettered: number;
  close(): Promise<void>;
}

/** Retries are bounded by time (retryForMs), not by count. */
const UNBOUNDED_ATTEMPTS = 1_000_000;

/**
 * POSTs `{alert, message}` as JSON. The job id is the alert id, so an alert
 * dispatched twice (after an instance died mid-dispatch) is posted once.
 */
export function webhookSink(options: WebhookSinkOptions): WebhookSink {
  const { url, log } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const backoffMs = options.backoffMs ?? 1000;
  const maxBackoffMs = options.maxBackoffMs ?? 300_000;
  const retryForMs = options.retryForMs ?? 86_400_000;
  let deadLettered = 0;
  const queue = new Queue("webhook", { connection: options.connection, prefix: options.prefix });
  const post = async (data: unknown) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "jabmon" },
      body: JSON.stringify(data),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`webhook answered ${response.status}`);
  };
  const worker = new Worker(
    "webhook",
    async (job) => {
      try {
        await post(job.data);
      } catch (err) {
        if (Date.now() - job.timestamp < retryForMs) throw err;
        deadLettered++;
        log.error(
          { alert: job.id, attempts: job.attemptsMade + 1, err: (err as Error).message },
          "webhook alert dead-lettered: not delivered within the retry period",
        );
        throw new UnrecoverableError((err as Error).message);
      }
    },
    {
      connection: options.connection.duplicate(),
      prefix: options.prefix,
      concurrency: 4,
      settings: {
        backoffStrategy: (attemptsMade: number) =>
          Math.min(maxBackoffMs, backoffMs * 2 ** Math.min(attemptsMade - 1, 30)),
      },
    },
  );
  worker.on("failed", (job, err) =>
    log.warn({ alert: job?.id, attempts: job?.attemptsMade, err: err.message }, "webhook failed"),
  );
  worker.on("error", (err) => log.warn({ err: err.message }, "webhook worker error"));
  return {
    name: "webhook",
    queue,
    get deadLettered() {
      return deadLettered;
    },
    async deliver(alert, message) {
      await queue.add(
        "alert",
        { alert, message },
        {
          jobId: alert.id,
          attempts: UNBOUNDED_ATTEMPTS,
          backoff: { type: "capped" },
          removeOnComplete: 1000,
          removeOnFail: 5000,
        },
      );
    },
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}

/** The pubsub node every alert is published to (docs/monitor.md). */
export const ALERTS_NODE = "alerts";

/** What the pubsub sink needs of the pubsub service (src/pubsub `PubsubService`). */
export interface ItemPublisher {
  ensureNode(node: string, config: { title: string; accessModel: "whitelist" }): Promise<boolean>;
  publish(node: string, payload: Element, itemId?: string): Promise<unknown>;
}

export interface PubsubAlertSink extends AlertSink {
  /** Create the node (owned by the component, whitelist) unless it exists. */
  ensureNode(): Promise<void>;
}

/**
 * Publishes `alertElement(alert)` on the `alerts` node with the alert id as the
 * item id: an alert dispatched twice replaces its own item instead of adding one.
 * If an operator deleted the node, it is created again on the next alert.
 */
export function pubsubSink(pubsub: ItemPublisher, node = ALERTS_NODE): PubsubAlertSink {
  const ensureNode = async () => {
    await pubsub.ensureNode(node, { title: "jabmon alerts", accessModel: "whitelist" });
  };
  return {
    name: "pubsub",
    ensureNode,
    async deliver(alert) {
      try {
        await pubsub.publish(node, alertElement(alert), alert.id);
      } catch (err) {
        if ((err as { code?: string }).code !== "JABMON_ERR_NODE_NOT_FOUND") throw err;
        await ensureNode();
        await pubsub.publish(node, alertElement(alert), alert.id);
      }
    },
  };
}
