/**
 * The status page's view of what the monitor stores: checks, the score's rule
 * contributions, events, backups and metric series, shaped for the browser
 * (times in ms, series as parallel arrays uPlot takes directly).
 */
import type { StatusDetails } from "../http/index.js";
import type { Monitor, MonitorReads } from "../monitor/index.js";
import { INGEST_SHARDS, type Keys, type Redis } from "../store/index.js";

/** Raw samples of the last hour; older history is in the 1-minute averages. */
const SERIES_WINDOW_MS = 3_600_000;
const MAX_SERIES = 24;

/**
 * Counters for /metrics: what this process's ingest consumer processed (none
 * in a process without one, role http), and the queues in Redis (shared).
 */
export function monitorProcessing(
  monitor: Pick<Monitor, "ingest"> | undefined,
  reads: MonitorReads,
  redis: Redis,
  keys: Keys,
) {
  let processed = 0;
  let lagMs = 0;
  monitor?.ingest.on("entry", (entry, outcome) => {
    if (outcome !== "applied") return;
    processed++;
    lagMs = Date.now() - entry.publishedAt;
  });
  return {
    processed: () => processed,
    lagMs: () => lagMs,
    async queueDepths() {
      const pipeline = redis.pipeline();
      for (let shard = 0; shard < INGEST_SHARDS; shard++) pipeline.xlen(keys.ingest(shard));
      pipeline.xlen(keys.alertOutbox());
      const lengths = ((await pipeline.exec()) ?? []).map(([, n]) => Number(n ?? 0));
      const outbox = lengths.pop() ?? 0;
      return {
        ingest: lengths.reduce((a, b) => a + b, 0),
        alert_outbox: outbox,
        ...(await reads.deliveryDepths()),
      };
    },
  };
}

export function monitorStatusDetails(monitor: MonitorReads): StatusDetails {
  const { status } = monitor;
  return {
    async host(jid) {
      const [detail, events, backups, seriesNames] = await Promise.all([
        status.hostDetail(jid),
        status.events(jid, 50),
        status.backups(jid, 50),
        status.metricSeriesNames(jid),
      ]);
      const from = Date.now() - SERIES_WINDOW_MS;
      const metrics: Record<string, { t: number[]; v: number[]; uom?: string }> = {};
      const uomOf = new Map<string, string>();
      for (const check of detail?.checks ?? []) {
        for (const metric of check.metrics)
          if (metric.uom) uomOf.set(`${check.name}/${metric.name}`, metric.uom);
      }
      await Promise.all(
        seriesNames.slice(0, MAX_SERIES).map(async (name) => {
          let points = await status.metricSeries(jid, name, { resolution: "raw", from });
          if (points.length < 2)
            points = await status.metricSeries(jid, name, { resolution: "1m" });
          const uom = uomOf.get(name);
          metrics[name] = {
            t: points.map((p) => p.t / 1000),
            v: points.map((p) => p.v),
            ...(uom ? { uom } : {}),
          };
        }),
      );
      return {
        checks: (detail?.checks ?? []).map((c) => ({
          name: c.name,
          state: c.state,
          output: c.output,
          since: c.since,
          lastResult: c.lastResult,
          flapping: c.flapping,
          metrics: c.metrics,
        })),
        score:
          detail?.score.score === null || !detail
            ? null
            : {
                total: detail.score.score,
                state: detail.score.state,
                scoredAt: detail.score.scoredAt,
                rules: detail.score.breakdown.map((r) => ({
                  name: r.rule,
                  weight: r.weight,
                  description: r.description,
                })),
              },
        events,
        backups: backups.map((b) => ({ ...b, size_bytes: b.sizeBytes })),
        metrics,
      };
    },
    alerts: (limit) => monitor.recentAlerts(limit),
    downtimes: () => monitor.downtimes(),
    async events({ jids, limit, type }) {
      const perHost = await Promise.all(
        jids.map(async (jid) => {
          const [events, backups] = await Promise.all([
            status.events(jid, limit),
            status.backups(jid, limit),
          ]);
          // Backup reports are listed with the events, as the page's "what happened" feed.
          const asEvents = backups.map((b) => ({
            jid,
            seq: b.seq,
            time: b.time,
            type: "backup",
            severity: b.status === "ok" ? "info" : "critical",
            text: `backup ${b.job} ${b.status}${b.sizeBytes !== undefined ? `, ${b.sizeBytes} bytes` : ""}${b.message ? `: ${b.message}` : ""}`,
            job: b.job,
            status: b.status,
            size_bytes: b.sizeBytes,
          }));
          return [...events.map((e) => ({ jid, ...e })), ...asEvents];
        }),
      );
      const all = perHost.flat().filter((e) => !type || e.type === type);
      return all.sort((a, b) => b.time - a.time).slice(0, limit);
    },
  };
}
