/**
 * The monitor, assembled: ordered ingest, status database, liveness, scoring,
 * alert dispatch and sinks. startComponent() creates
 * one per component process; several processes on one Redis share the fleet.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ComponentLink } from "../component/index.js";
import type { Logger } from "../log/index.js";
import { type HostStore, ingestShard, type Keys, type Redis } from "../store/index.js";
import {
  AlertGate,
  type AlertingSettings,
  buildReceivers,
  DEFAULT_ALERTING,
  type Downtime,
  DowntimeStore,
} from "./alerting/index.js";
import { AlertingKeys } from "./alerting/keys.js";
import { AlertCenter, type AlertSink, type DispatchedAlert } from "./alerts/center.js";
import { ProblemIndex } from "./alerts/problems.js";
import { type WebhookSink, webhookSink, xmppSink } from "./alerts/sinks.js";
import { Liveness } from "./hosts/liveness.js";
import { type PlaneSettings, PlaneWatch } from "./hosts/plane.js";
import type { PresenceTracker } from "./hosts/presence.js";
import { StatusReader } from "./hosts/status.js";
import { DEFAULT_RETENTION, type Retention, type StoreLimits } from "./ingest/apply.js";
import { IngestConsumer } from "./ingest/consumer.js";
import type { FlapThresholds } from "./ingest/flap.js";
import { debouncedRescore } from "./scoring/rescore.js";
import { loadRules, type RuleSet, type Thresholds } from "./scoring/rules.js";
import { Scorer } from "./scoring/score.js";

/** The packaged default rule set (rules/default.yml next to dist/ or src/). */
export function defaultRulesFile(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidate = join(here, "..", "..", "rules", "default.yml");
  return existsSync(candidate) ? candidate : join(process.cwd(), "rules", "default.yml");
}

export interface MonitorSettings {
  /** A host without presence or data for this long is marked down ("stale"). */
  staleMs: number;
  /** Agents' time to answer the re-probe after the component reconnects (PresenceTracker). */
  presenceConfirmMs?: number;
  /** Ingest shard lease; another instance takes over within about leaseMs + leaseMs/3. */
  leaseMs: number;
  /** Rules file; empty for the packaged default. */
  rulesFile: string;
  /** Overrides the rules file's thresholds. */
  thresholds?: Partial<Thresholds>;
  /** Every host is rescored this often (time-based rules: backup age, event windows). */
  scoreIntervalMs: number;
  flap: FlapThresholds;
  retention?: Partial<Retention>;
  /** Bounds on names and timestamps agents control (default DEFAULT_LIMITS). */
  limits?: StoreLimits;
  /** Consecutive bad results before a check is hard and alerts; a check's label overrides. */
  checkAttempts?: number;
  /** Plane events and the reconnect grace (src/monitor/hosts/plane.ts; default DEFAULT_PLANE_SETTINGS). */
  plane?: Partial<PlaneSettings>;
}

export interface AlertSettings {
  adminJids: string[];
  room: string;
  roomNick: string;
  webhookUrl: string;
  webhookBackoffMs: number;
  webhookMaxBackoffMs: number;
  webhookRetryForMs: number;
  /** Retry of alerts a sink (XMPP) could not take at once. */
  retryBackoffMs: number;
  retryMaxBackoffMs: number;
  retryForMs: number;
  /** Re-notify an unacknowledged problem this often (ms); 0 disables. */
  renotifyMs?: number;
}

export interface MonitorOptions {
  link: ComponentLink;
  redis: Redis;
  keys: Keys;
  hosts: HostStore;
  presence: PresenceTracker;
  log: Logger;
  monitor: MonitorSettings;
  alerts: AlertSettings;
  /** Grouping, dependencies, downtime, storm control; the default sends every alert at once. */
  alerting?: AlertingSettings;
  /** Extra sinks, e.g. the pubsub `alerts` node. */
  sinks?: AlertSink[];
  /**
   * Take ingest shards in this process (default true). false for a front
   * process (role `xmpp`): its consumer is never started, so it holds no
   * lease, and ingest processes (startIngestWorker) do the work.
   */
  ingest?: boolean;
}

/**
 * What the status page reads of the monitor: Redis reads only, so a process
 * with no link and no monitor (role http) has them too (monitorReads()).
 */
export interface MonitorReads {
  readonly status: StatusReader;
  /** Recent dispatched alerts, newest first. */
  recentAlerts(limit?: number): Promise<DispatchedAlert[]>;
  /** Downtimes not over yet. */
  downtimes(): Promise<Downtime[]>;
  /**
   * Alert delivery backlog: alerts waiting for a retry (all sinks, webhook
   * included) and alerts given up on (dead letters), for /metrics.
   */
  deliveryDepths(): Promise<{ alert_retry: number; alert_dead_letter: number }>;
}

export interface Monitor extends MonitorReads {
  readonly instanceId: string;
  readonly ingest: IngestConsumer;
  /**
   * Data arrived from this agent: a stale host is back. Ingest calls it for
   * what it applies; a front without ingest (role xmpp) calls it for the
   * publishes it stores. Batched: one Redis round trip per turn.
   */
  dataSeen(jid: string): void;
  readonly status: StatusReader;
  readonly alerts: AlertCenter;
  /** The alerting policy: downtimes, dependencies, held problems. */
  readonly gate: AlertGate;
  /** Open problems, with their latest alert and re-notification (recorded by `alerts`). */
  readonly problems: ProblemIndex;
  readonly scorer: Scorer;
  readonly liveness: Liveness;
  /** The monitoring plane's own health: plane alerts and the reconnect grace. */
  readonly plane: PlaneWatch;
  /** Stop; `release: false` keeps the leases (as a crash would), for tests. */
  stop(options?: { release?: boolean }): Promise<void>;
}

export async function startMonitor(options: MonitorOptions): Promise<Monitor> {
  const { link, redis, keys, hosts, presence, log } = options;
  const settings = options.monitor;
  const instanceId = randomBytes(8).toString("hex");
  const retention = { ...DEFAULT_RETENTION, ...settings.retention };

  const status = new StatusReader(redis, keys, hosts);
  const scorer = new Scorer(
    redis,
    keys,
    loadRuleSet(settings, log),
    log.child({ part: "score" }),
    retention.outbox,
  );

  const sinks: AlertSink[] = [...(options.sinks ?? [])];
  const { adminJids, room, roomNick, webhookUrl } = options.alerts;
  if (adminJids.length > 0 || room)
    sinks.push(
      xmppSink({ link, adminJids, room, nick: roomNick, log: log.child({ part: "xmpp-alerts" }) }),
    );
  let webhook: WebhookSink | undefined;
  if (webhookUrl) {
    webhook = webhookSink({
      connection: redis,
      prefix: keys.bullPrefix(),
      url: webhookUrl,
      backoffMs: options.alerts.webhookBackoffMs,
      maxBackoffMs: options.alerts.webhookMaxBackoffMs,
      retryForMs: options.alerts.webhookRetryForMs,
      log: log.child({ part: "webhook" }),
    });
    sinks.push(webhook);
  }
  const renotifyMs = options.alerts.renotifyMs ?? 0;
  const problems = new ProblemIndex({ redis, keys, renotifyMs });
  const alerting = options.alerting ?? DEFAULT_ALERTING;
  // Named receivers (routing, escalation); the `alerts` node sink is theirs to use too.
  const receivers = buildReceivers({
    receivers: alerting.receivers,
    link,
    redis,
    keys,
    nodeSinks: options.sinks ?? [],
    webhookBackoffMs: options.alerts.webhookBackoffMs,
    webhookMaxBackoffMs: options.alerts.webhookMaxBackoffMs,
    webhookRetryForMs: options.alerts.webhookRetryForMs,
    log: log.child({ part: "receivers" }),
  });
  // Hosts to rescore on the next flush: results, stale checks, liveness.
  const rescoring = debouncedRescore(scorer, log);
  const rescoreSoon = rescoring.soon;
  const gate = new AlertGate({
    redis,
    keys,
    log: log.child({ part: "alerting" }),
    settings: alerting,
    outboxMax: retention.outbox,
    receivers: receivers.byName,
    // A stale check is a check state like a result's: the score may use it.
    onCheckStale: rescoreSoon,
  });
  // Parents declared in status presence (docs/protocol.md, `depends`).
  link.router.onPresence((stanza) => {
    gate
      .onPresence(stanza)
      .catch((err: Error) => log.warn({ err: err.message }, "cannot record dependencies"));
  });
  const alerts = new AlertCenter({
    gate,
    redis,
    keys,
    log: log.child({ part: "alerts" }),
    instanceId,
    sinks,
    outboxMax: retention.outbox,
    renotifyMs,
    problems,
    retry: {
      backoffMs: options.alerts.retryBackoffMs,
      maxBackoffMs: options.alerts.retryMaxBackoffMs,
      retryForMs: options.alerts.retryForMs,
    },
  });
  for (const sink of receivers.all()) alerts.retry.register(sink);
  // Alerts that waited for the link go out as soon as it is back.
  link.onOnline(() => alerts.retryNow());

  const liveness = new Liveness({
    redis,
    keys,
    hosts,
    presence,
    link,
    log: log.child({ part: "liveness" }),
    staleMs: settings.staleMs,
    outboxMax: retention.outbox,
    reconnectGraceMs: settings.presenceConfirmMs ?? 0,
  });

  const plane = new PlaneWatch({
    redis,
    keys,
    hosts,
    link,
    log: log.child({ part: "plane" }),
    instanceId,
    outboxMax: retention.outbox,
    ...(settings.plane ? { settings: settings.plane } : {}),
    releaseDown: (jid, reason) => liveness.alertDown(jid, reason),
    explainedDowns: (jids) => gate.dependencies.explainDowns(jids),
  });
  liveness.holdDownsWith(plane);

  const worker = ingestWorker({
    redis,
    keys,
    instanceId,
    log,
    settings,
    retention,
    rescoreSoon,
    isAgent: (jid) => presence.isAgent(jid),
  });
  const { ingest } = worker;
  // Data seen from hosts, checked for a stale host's return once per turn.
  let seen = new Set<string>();
  const takeSeen = () => {
    const jids = [...seen];
    seen = new Set();
    void liveness.dataSeen(jids);
  };
  const dataSeen = (jid: string) => {
    if (seen.size === 0) setImmediate(takeSeen);
    seen.add(jid);
  };
  ingest.on("agentUpdated", dataSeen);
  liveness.on("down", rescoreSoon);
  liveness.on("up", rescoreSoon);

  await alerts.start();
  await plane.start();
  if (options.ingest !== false) await ingest.start();
  liveness.start();

  return {
    instanceId,
    ingest,
    dataSeen,
    status,
    alerts,
    gate,
    problems,
    scorer,
    liveness,
    plane,
    recentAlerts: (limit) => alerts.recent(limit),
    downtimes: () => gate.downtimes.list(),
    async deliveryDepths() {
      const { retry, deadLetter } = await alerts.retry.depths();
      const hook = webhook
        ? await webhook.queue.getJobCounts("delayed", "wait", "failed")
        : { delayed: 0, wait: 0, failed: 0 };
      return {
        alert_retry: retry + (hook.delayed ?? 0) + (hook.wait ?? 0),
        alert_dead_letter: deadLetter + (hook.failed ?? 0),
      };
    },
    async stop({ release = true } = {}) {
      liveness.stop();
      await plane.stop();
      await worker.stop({ release });
      rescoring.stop();
      await alerts.stop();
      await webhook?.close();
      await receivers.close();
    },
  };
}

function loadRuleSet(settings: MonitorSettings, log: Logger): RuleSet {
  const ruleSet: RuleSet = loadRules(settings.rulesFile || defaultRulesFile());
  if (settings.thresholds) ruleSet.thresholds = { ...ruleSet.thresholds, ...settings.thresholds };
  log.info(
    { rules: ruleSet.rules.length, source: ruleSet.source, thresholds: ruleSet.thresholds },
    "rules loaded",
  );
  return ruleSet;
}

interface IngestWorkerParts {
  redis: Redis;
  keys: Keys;
  instanceId: string;
  log: Logger;
  settings: MonitorSettings;
  retention: Retention;
  rescoreSoon: (jid: string) => void;
  isAgent: (bareJid: string) => boolean;
}

/**
 * The ingest consumer and the rescoring it drives: the CPU-heavy part, which
 * needs Redis only. Built but not started: startMonitor starts the consumer
 * unless the process is a front (role xmpp), startIngestWorker always.
 */
function ingestWorker(parts: IngestWorkerParts) {
  const { redis, keys, instanceId, log, settings, retention, rescoreSoon } = parts;
  const ingest = new IngestConsumer({
    redis,
    keys,
    instanceId,
    log: log.child({ part: "ingest" }),
    leaseMs: settings.leaseMs,
    retention,
    ...(settings.limits ? { limits: settings.limits } : {}),
    flap: settings.flap,
    isAgent: parts.isAgent,
    checkAttempts: settings.checkAttempts ?? 1,
  });

  // Time-based rules: every host of the shards held here, each scoreIntervalMs.
  const sweepTimer = setInterval(async () => {
    try {
      const held = new Set(ingest.heldShards());
      if (held.size === 0) return;
      for (const jid of await redis.zrange(keys.hosts(), 0, -1))
        if (held.has(ingestShard(jid))) rescoreSoon(jid);
    } catch (err) {
      log.warn({ err: (err as Error).message }, "score sweep failed");
    }
  }, settings.scoreIntervalMs);
  ingest.on("agentUpdated", rescoreSoon);

  return {
    ingest,
    async stop({ release = true } = {}) {
      clearInterval(sweepTimer);
      await ingest.stop({ release });
    },
  };
}

export interface IngestWorkerOptions {
  redis: Redis;
  keys: Keys;
  log: Logger;
  monitor: MonitorSettings;
  /** Who counts as an agent: the policy of the config (agentPolicy(config.monitor)). */
  isAgent: (bareJid: string) => boolean;
}

/** An ingest process's work (role `ingest`): shards by lease, results applied, hosts rescored. */
export interface IngestWorker {
  readonly instanceId: string;
  readonly ingest: IngestConsumer;
  readonly scorer: Scorer;
  /** Stop; `release: false` keeps the leases (as a crash would), for tests. */
  stop(options?: { release?: boolean }): Promise<void>;
}

/**
 * The monitor's ingest alone, for a process with no XMPP link (role
 * `ingest`): it takes stream shards by lease like any instance, so each
 * added process takes its share of the shards (and a core). Alerts it
 * raises go to the Redis outbox, which the front processes dispatch; a
 * stale host's return is noticed by the fronts from its publishes.
 */
export async function startIngestWorker(options: IngestWorkerOptions): Promise<IngestWorker> {
  const { redis, keys, log, isAgent } = options;
  const settings = options.monitor;
  const instanceId = randomBytes(8).toString("hex");
  const retention = { ...DEFAULT_RETENTION, ...settings.retention };
  const scorer = new Scorer(
    redis,
    keys,
    loadRuleSet(settings, log),
    log.child({ part: "score" }),
    retention.outbox,
  );
  const rescoring = debouncedRescore(scorer, log);
  const worker = ingestWorker({
    redis,
    keys,
    instanceId,
    log,
    settings,
    retention,
    rescoreSoon: rescoring.soon,
    isAgent,
  });
  await worker.ingest.start();
  return {
    instanceId,
    ingest: worker.ingest,
    scorer,
    async stop(o) {
      await worker.stop(o);
      rescoring.stop();
    },
  };
}

export interface MonitorReadsOptions {
  redis: Redis;
  keys: Keys;
  hosts: HostStore;
  log: Logger;
}

/**
 * The monitor's read side without a monitor (role http): nothing started,
 * nothing consumed, no link. The webhook's own BullMQ backlog is not counted
 * here (only in a process that runs the webhook sink).
 */
export function monitorReads(options: MonitorReadsOptions): MonitorReads & { stop(): void } {
  const { redis, keys, hosts, log } = options;
  // Never started: used for its reads (the alert log, the retry outbox's depths).
  const alerts = new AlertCenter({ redis, keys, log, instanceId: "reader" });
  const downtimes = new DowntimeStore(redis, new AlertingKeys(keys.prefix));
  return {
    status: new StatusReader(redis, keys, hosts),
    recentAlerts: (limit) => alerts.recent(limit),
    downtimes: () => downtimes.list(),
    async deliveryDepths() {
      const { retry, deadLetter } = await alerts.retry.depths();
      return { alert_retry: retry, alert_dead_letter: deadLetter };
    },
    stop: () => void alerts.stop(),
  };
}
