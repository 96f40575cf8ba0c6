/**
 * Prometheus /metrics: the system's own health and per-host state gauges,
 * computed at scrape time from the host snapshot (no per-event bookkeeping).
 */
import type { FastifyPluginAsync } from "fastify";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { HostIndex } from "./host-index.js";
import { STATE_ORDER } from "./host-index.js";

export interface MetricsOptions {
  index: HostIndex;
  /** Seconds a Redis PING takes; measured at scrape time. */
  redisLatency: () => Promise<number>;
  xmppOnline: () => boolean;
  /** The monitor's processing, when it runs in this process. */
  processing?: {
    /** Ingest entries processed since start. */
    processed(): number;
    /** Age of the newest processed entry when it was processed (ms). */
    lagMs(): number;
    /** Entries waiting in the ingest streams and the alert outbox. */
    queueDepths(): Promise<Record<string, number>>;
  };
}

/** Numeric state for alerting rules: 0 ok, 1 warning, 2 critical, 3 unknown, 4 down. */
export const STATE_CODE: Record<string, number> = {
  ok: 0,
  warning: 1,
  critical: 2,
  unknown: 3,
  down: 4,
};

export function metricsRegistry(options: MetricsOptions): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: "jabmon_process_" });
  const { index } = options;

  new Gauge({
    name: "jabmon_hosts",
    help: "Hosts per state",
    labelNames: ["state"],
    registers: [register],
    collect() {
      const summary = index.summary();
      for (const state of STATE_ORDER) this.set({ state }, summary[state]);
    },
  });
  new Gauge({
    name: "jabmon_agents_connected",
    help: "Agents with a live XMPP session",
    registers: [register],
    collect() {
      let online = 0;
      for (const host of index.all()) if (host.online) online++;
      this.set(online);
    },
  });
  new Gauge({
    name: "jabmon_host_state",
    help: "Each host's state: 0 ok, 1 warning, 2 critical, 3 unknown, 4 down",
    labelNames: ["jid", "host"],
    registers: [register],
    collect() {
      this.reset();
      for (const host of index.all())
        this.set({ jid: host.jid, host: host.host }, STATE_CODE[host.state] ?? 3);
    },
  });
  new Gauge({
    name: "jabmon_xmpp_link_up",
    help: "1 when the component's link to ejabberd is online",
    registers: [register],
    collect() {
      this.set(options.xmppOnline() ? 1 : 0);
    },
  });
  new Gauge({
    name: "jabmon_redis_latency_seconds",
    help: "Time of a Redis PING at scrape time",
    registers: [register],
    async collect() {
      this.set(await options.redisLatency());
    },
  });
  const { processing } = options;
  if (processing) {
    new Gauge({
      name: "jabmon_items_processed_total",
      help: "Agent items processed by this instance's monitor (use rate() for items per second)",
      registers: [register],
      collect() {
        this.set(processing.processed());
      },
    });
    new Gauge({
      name: "jabmon_processing_lag_seconds",
      help: "Time from publish to processing of the newest processed item",
      registers: [register],
      collect() {
        this.set(processing.lagMs() / 1000);
      },
    });
    new Gauge({
      name: "jabmon_queue_depth",
      help: "Entries waiting, per queue",
      labelNames: ["queue"],
      registers: [register],
      async collect() {
        for (const [queue, depth] of Object.entries(await processing.queueDepths()))
          this.set({ queue }, depth);
      },
    });
  }
  return register;
}

export const metricsRoutes: FastifyPluginAsync<{ register: Registry }> = async (
  app,
  { register },
) => {
  app.get("/metrics", async (_request, reply) => {
    reply.type(register.contentType);
    return register.metrics();
  });
};
