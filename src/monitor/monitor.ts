/**
 * The monitor, assembled: ordered ingest, status database, liveness, scoring,
 * alert dispatch and sinks, and the offline queue. startComponent() creates
 * one per component process; several processes on one Redis share the fleet.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ComponentLink } from "../component/index.js";
import type { Logger } from "../log/index.js";
import { type HostStore, ingestShard, type Keys, type Redis } from "../store/index.js";
import type { Element } from "../xmpp/index.js";
import { AlertCenter, type AlertSink } from "./alerts.js";
import { DEFAULT_RETENTION, type Retention } from "./apply.js";
import type { FlapThresholds } from "./flap.js";
import { IngestConsumer } from "./ingest.js";
import { Liveness } from "./liveness.js";
import { type Deliverer, OfflineQueue, type QueuedEntry } from "./offline-queue.js";
import type { PresenceTracker } from "./presence.js";
import { ProblemIndex } from "./problems.js";
import { loadRules, type RuleSet, type Thresholds } from "./rules.js";
import { Scorer } from "./score.js";
import { type WebhookSink, webhookSink, xmppSink } from "./sinks.js";
import { StatusReader } from "./status.js";

/** The packaged default rule set (rules/default.yml next to dist/ or src/). */
export function defaultRulesFile(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidate = join(here, "..", "..", "rules", "default.yml");
  return existsSync(candidate) ? candidate : join(process.cwd(), "rules", "default.yml");
}

export interface MonitorSettings {
  /** A host without presence or data for this long is marked down ("stale"). */
  staleMs: number;
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
}

export interface AlertSettings {
  adminJids: string[];
  room: string;
  roomNick: string;
  webhookUrl: string;
  webhookAttempts: number;
  webhookBackoffMs: number;
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
  /** Extra sinks, e.g. the pubsub `alerts` node. */
  sinks?: AlertSink[];
}

export interface Monitor {
  readonly instanceId: string;
  readonly ingest: IngestConsumer;
  readonly status: StatusReader;
  readonly alerts: AlertCenter;
  /** Open problems, with their latest alert and re-notification (recorded by `alerts`). */
  readonly problems: ProblemIndex;
  readonly offline: OfflineQueue;
  readonly scorer: Scorer;
  readonly liveness: Liveness;
  /** Queue an element for an agent (delivered in order when online; dropped after ttlMs). */
  enqueueForAgent(jid: string, element: Element, ttlMs: number): Promise<QueuedEntry>;
  /** Replace how queued elements reach the agent (default: sent with `to` = its full JID). */
  setOfflineDeliverer(deliver: Deliverer): void;
  /** Stop; `release: false` keeps the leases (as a crash would), for tests. */
  stop(options?: { release?: boolean }): Promise<void>;
}

export async function startMonitor(options: MonitorOptions): Promise<Monitor> {
  const { link, redis, keys, hosts, presence, log } = options;
  const settings = options.monitor;
  const instanceId = randomBytes(8).toString("hex");
  const retention = { ...DEFAULT_RETENTION, ...settings.retention };

  const ruleSet: RuleSet = loadRules(settings.rulesFile || defaultRulesFile());
  if (settings.thresholds) ruleSet.thresholds = { ...ruleSet.thresholds, ...settings.thresholds };
  log.info(
    { rules: ruleSet.rules.length, source: ruleSet.source, thresholds: ruleSet.thresholds },
    "rules loaded",
  );

  const status = new StatusReader(redis, keys, hosts);
  const scorer = new Scorer(redis, keys, ruleSet, log.child({ part: "score" }), retention.outbox);

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
      attempts: options.alerts.webhookAttempts,
      backoffMs: options.alerts.webhookBackoffMs,
      log: log.child({ part: "webhook" }),
    });
    sinks.push(webhook);
  }
  const renotifyMs = options.alerts.renotifyMs ?? 0;
  const problems = new ProblemIndex({ redis, keys, renotifyMs });
  const alerts = new AlertCenter({
    redis,
    keys,
    log: log.child({ part: "alerts" }),
    instanceId,
    sinks,
    outboxMax: retention.outbox,
    renotifyMs,
    problems,
  });

  const offline = new OfflineQueue({
    redis,
    keys,
    hosts,
    log: log.child({ part: "offline-queue" }),
    deliver: (_jid, fullJid, element) => {
      if (!link.isOnline()) throw new Error("component link is down");
      element.attrs.to = fullJid;
      element.attrs.from ??= link.jid;
      link.send(element);
    },
  });

  const liveness = new Liveness({
    redis,
    keys,
    hosts,
    presence,
    link,
    log: log.child({ part: "liveness" }),
    staleMs: settings.staleMs,
    outboxMax: retention.outbox,
  });

  const ingest = new IngestConsumer({
    redis,
    keys,
    instanceId,
    log: log.child({ part: "ingest" }),
    leaseMs: settings.leaseMs,
    retention,
    flap: settings.flap,
  });

  // Rescoring is debounced per host: a burst of results costs one evaluation,
  // and the hosts of one flush are read and written in a few round trips.
  const dirty = new Set<string>();
  const rescoreSoon = (jid: string) => dirty.add(jid);
  const flushTimer = setInterval(() => {
    const jids = [...dirty];
    dirty.clear();
    scorer.rescoreMany(jids).catch(async (err: Error) => {
      log.warn({ hosts: jids.length, err: err.message }, "rescore failed, rescoring one by one");
      for (const jid of jids)
        await scorer
          .rescore(jid)
          .catch((e: Error) => log.warn({ jid, err: e.message }, "rescore failed"));
    });
  }, 250);
  // Data seen from hosts, checked for a stale host's return once per turn.
  let seen = new Set<string>();
  const takeSeen = () => {
    const jids = [...seen];
    seen = new Set();
    void liveness.dataSeen(jids);
  };
  const sweepTimer = setInterval(async () => {
    try {
      const held = new Set(ingest.heldShards());
      for (const jid of await redis.zrange(keys.hosts(), 0, -1))
        if (held.has(ingestShard(jid))) rescoreSoon(jid);
    } catch (err) {
      log.warn({ err: (err as Error).message }, "score sweep failed");
    }
  }, settings.scoreIntervalMs);

  ingest.on("agentUpdated", (jid) => {
    rescoreSoon(jid);
    if (seen.size === 0) setImmediate(takeSeen);
    seen.add(jid);
  });
  liveness.on("down", rescoreSoon);
  liveness.on("up", (jid) => {
    rescoreSoon(jid);
    offline
      .drain(jid)
      .catch((err: Error) => log.warn({ jid, err: err.message }, "offline drain failed"));
  });

  await alerts.start();
  await ingest.start();
  liveness.start();

  return {
    instanceId,
    ingest,
    status,
    alerts,
    problems,
    offline,
    scorer,
    liveness,
    enqueueForAgent: (jid, element, ttlMs) => offline.enqueue(jid, element, ttlMs),
    setOfflineDeliverer: (deliver) => offline.setDeliverer(deliver),
    async stop({ release = true } = {}) {
      clearInterval(flushTimer);
      clearInterval(sweepTimer);
      liveness.stop();
      await ingest.stop({ release });
      await alerts.stop();
      await webhook?.close();
    },
  };
}
