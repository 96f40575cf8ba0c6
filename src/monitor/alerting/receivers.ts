/** Each configured receiver as the sinks that reach it. */
import type { ComponentLink } from "../../component/index.js";
import type { Logger } from "../../log/index.js";
import type { Keys, Redis } from "../../store/index.js";
import type { AlertSink } from "../alerts/center.js";
import { type WebhookSink, webhookSink, xmppSink } from "../alerts/sinks.js";
import type { ReceiverConfig } from "./routing.js";

export interface ReceiverSinks {
  byName: Map<string, AlertSink[]>;
  /** Every receiver's sinks, once each (for the retry outbox). */
  all(): AlertSink[];
  close(): Promise<void>;
}

export function buildReceivers(options: {
  receivers: ReceiverConfig[];
  link: ComponentLink;
  redis: Redis;
  keys: Keys;
  /** The `alerts` node sink(s), for receivers with alertsNode. */
  nodeSinks: AlertSink[];
  webhookBackoffMs: number;
  webhookMaxBackoffMs?: number;
  webhookRetryForMs?: number;
  log: Logger;
}): ReceiverSinks {
  const byName = new Map<string, AlertSink[]>();
  const webhooks: WebhookSink[] = [];
  const { link, log } = options;
  for (const r of options.receivers) {
    const sinks: AlertSink[] = [];
    if (r.jids.length > 0)
      sinks.push(xmppSink({ link, adminJids: r.jids, log: log.child({ receiver: r.name }) }));
    for (const room of r.rooms)
      sinks.push(xmppSink({ link, adminJids: [], room, log: log.child({ receiver: r.name }) }));
    if (r.alertsNode) sinks.push(...options.nodeSinks);
    r.webhooks.forEach((url, i) => {
      // A queue per receiver and URL: BullMQ workers of one queue would post anywhere.
      const sink = webhookSink({
        connection: options.redis,
        prefix: `${options.keys.bullPrefix()}receiver:${r.name}:${i}`,
        url,
        backoffMs: options.webhookBackoffMs,
        maxBackoffMs: options.webhookMaxBackoffMs,
        retryForMs: options.webhookRetryForMs,
        log: log.child({ receiver: r.name }),
      });
      webhooks.push(sink);
      sinks.push(sink);
    });
    // Each receiver's sinks have their own names, so that an alert one could not
    // take waits in its own retry outbox and is retried to the same receiver.
    byName.set(
      r.name,
      sinks.map((sink) =>
        sink.name.startsWith("pubsub") ? sink : { ...sink, name: `${sink.name}:${r.name}` },
      ),
    );
  }
  return {
    byName,
    all: () => [...new Set([...byName.values()].flat())],
    async close() {
      await Promise.all(webhooks.map((w) => w.close()));
    },
  };
}
