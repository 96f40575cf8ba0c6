/**
 * The component process, assembled: the XEP-0114 link, disco, the monitor,
 * the Redis store and the HTTP status server. `jabmon component` runs this
 * (startRole): all of it (role `all`), or one part per process (`xmpp`,
 * `ingest`, `http`; docs/deploy.md, "Process roles").
 */
import type { FastifyInstance } from "fastify";
import { type ComponentLink, componentLink, registerBuiltins } from "../component/index.js";
import { type ComponentConfig, LINK_ROLES } from "../config/index.js";
import { discoService } from "../disco/index.js";
import {
  type LiveNode,
  type RunningGateway,
  startGateway,
  startLiveNode,
} from "../gateway/index.js";
import { assertHttpAccess, buildHttpServer, HostIndex } from "../http/index.js";
import type { Logger } from "../log/index.js";
import { moduleService, NS_MODULES } from "../modules/index.js";
import {
  type IngestWorker,
  type Monitor,
  type MonitorReads,
  monitorReads,
  PresenceTracker,
  pubsubSink,
  startIngestWorker,
  startMonitor,
} from "../monitor/index.js";
import {
  agentPolicy,
  NS_JABMON,
  NS_PING,
  NS_RPC,
  NS_VERSION,
  openAgentPolicyWarning,
} from "../protocol/index.js";
import { type PubsubService, pubsubService } from "../pubsub/index.js";
import { monitorAlertsBackend, type RpcEndpoint, rpcEndpoint } from "../rpc/index.js";
import { createRedis, HostStore, Keys, type Redis, type RedisHealth } from "../store/index.js";
import { VERSION } from "../version.js";
import { startAnswerRelay } from "./answer-relay.js";
import { announceFront, watchFronts } from "./fronts.js";
import { reportRedisPersistence } from "./persistence.js";
import { monitorProcessing, monitorStatusDetails } from "./status-details.js";

export interface RunningComponent {
  link: ComponentLink;
  redis: Redis & RedisHealth;
  hosts: HostStore;
  presence: PresenceTracker;
  rpc: RpcEndpoint;
  pubsub: PubsubService;
  monitor: Monitor;
  http: FastifyInstance | undefined;
  /** The HTTP address actually bound (port 0 picks a free one). */
  httpUrl: string | undefined;
  /** The HTTP gateway to Jabber-RPC, when gateway.enabled (docs/gateway.md). */
  gateway: RunningGateway | undefined;
  stop(): Promise<void>;
}

/**
 * The process with the link (role `all`, or `xmpp`: the front, which takes
 * no ingest shard and serves no status page). Other roles: startRole.
 */
export async function startComponent(
  config: ComponentConfig,
  log: Logger,
): Promise<RunningComponent> {
  if (!LINK_ROLES.includes(config.role))
    throw new Error(`role ${config.role} has no XMPP link: start it with startRole()`);
  const front = config.role === "xmpp";
  const serveHttp = config.http.enabled && !front;
  // Refuse an open status page before touching Redis or ejabberd.
  if (serveHttp) assertHttpAccess(config.http);
  const { redis, keys, hosts } = connectRedis(config, log);
  // The default agent policy is open by domain: fine on a domain of agents, not
  // on one people share; the operator should decide (docs/security.md).
  const openPolicy = openAgentPolicyWarning(config.monitor);
  if (openPolicy) log.warn({ agentDomains: config.monitor.agentDomains }, openPolicy);
  const link = componentLink({
    service: config.xmpp.service,
    domain: config.xmpp.jid,
    password: linkPassword(config),
    log: log.child({ part: "xmpp" }),
  });

  registerBuiltins(link.router, { name: "jabmon", version: VERSION });
  const disco = discoService({ router: link.router });
  disco.addIdentity({ category: "component", type: "generic", name: "jabmon monitor" });
  for (const feature of [NS_PING, NS_VERSION, NS_JABMON, NS_RPC]) disco.addFeature(feature);
  // XEP-0009 §5: a Jabber-RPC responder is identity automation/rpc.
  disco.addIdentity({ category: "automation", type: "rpc" });

  const pubsub = pubsubService({
    link,
    disco,
    redis,
    keys,
    log: log.child({ part: "pubsub" }),
    options: config.pubsub,
    isAgent: agentPolicy(config.monitor).isAgent,
  });
  // Alerts as items on the `alerts` node: whitelist, readable by pubsub.subscribers and admins.
  const alertsNode = pubsubSink(pubsub);
  await alertsNode.ensureNode();

  const presence = new PresenceTracker({
    link,
    hosts,
    log: log.child({ part: "presence" }),
    ...config.monitor,
  });
  const monitor = await startMonitor({
    link,
    redis,
    keys,
    hosts,
    presence,
    log: log.child({ part: "monitor" }),
    monitor: config.monitor,
    alerts: config.alerts,
    alerting: config.alerting,
    sinks: [alertsNode],
    ingest: !front,
  });
  // Without ingest here, a stale host's return is noticed from its publishes.
  if (front) {
    const { isAgent } = agentPolicy(config.monitor);
    pubsub.use({
      afterPublish(_node, bare) {
        if (isAgent(bare)) monitor.dataSeen(bare);
      },
    });
  }
  const rpc = rpcEndpoint({
    link,
    hosts,
    redis,
    keys,
    presence,
    config: config.rpc,
    log: log.child({ part: "rpc" }),
    alerts: monitorAlertsBackend(monitor),
    downtimes: monitor.gate.downtimes,
  });

  // Check modules: the publishers ACL and audit on modules/* nodes, RPC modules.*.
  const modules = moduleService({
    pubsub,
    redis,
    keys,
    hosts,
    jid: config.xmpp.jid,
    log: log.child({ part: "modules" }),
    config: config.modules,
  });
  modules.registerRpc(rpc.service);
  disco.addFeature(NS_MODULES);
  await modules.start();

  const status = serveHttp
    ? await startStatusServer({
        config,
        log,
        redis,
        keys,
        hosts,
        reads: monitor,
        monitor,
        xmppOnline: () => link.isOnline(),
      })
    : undefined;
  const { http, httpUrl, index } = status ?? {};
  // The `hosts` node for live XMPP viewers, and the HTTP gateway calling RPC in-process.
  const live: LiveNode | undefined = config.live.enabled
    ? await startLiveNode({
        pubsub,
        hosts,
        redis,
        keys,
        log: log.child({ part: "live" }),
        maxItems: config.pubsub.maxItemsLimit,
        index,
      })
    : undefined;
  const gateway = config.gateway.enabled
    ? await startGateway({
        rpc: rpc.service,
        config: config.gateway,
        log: log.child({ part: "gateway" }),
      })
    : undefined;

  // Before the link: an answer relayed by another instance must find us listening.
  const answers = await startAnswerRelay(link, redis, keys, log.child({ part: "relay" }));
  const announced = announceFront(link, redis, keys, monitor.instanceId, log);
  await link.start();
  log.info({ jid: config.xmpp.jid, service: config.xmpp.service }, "component online");
  await rpc.start();

  return {
    link,
    redis,
    hosts,
    presence,
    rpc,
    pubsub,
    monitor,
    http,
    httpUrl,
    gateway,
    async stop() {
      presence.stop();
      index?.stop();
      live?.stop();
      await gateway?.stop();
      rpc.stop();
      pubsub.stop();
      await monitor.stop();
      await http?.close();
      await announced.stop();
      await link.stop();
      answers.stop();
      redis.disconnect();
    },
  };
}

function connectRedis(config: ComponentConfig, log: Logger) {
  const redis = createRedis(config.redis.url, log.child({ part: "redis" }), {
    name: `jabmon-${config.role === "all" ? "component" : config.role}`,
    offlineQueueMax: config.redis.offlineQueueMax,
  });
  // In the background: a slow or restarting Redis must not delay start-up for a log line.
  void reportRedisPersistence(redis, log.child({ part: "redis" }));
  const keys = new Keys(config.redis.prefix);
  return { redis, keys, hosts: new HostStore(redis, keys) };
}

/** The schema requires it for the roles with a link; this says so to the compiler. */
function linkPassword(config: ComponentConfig): string {
  const { password } = config.xmpp;
  if (password === undefined) throw new Error("xmpp.password is required");
  return password;
}

interface StatusServerParts {
  config: ComponentConfig;
  log: Logger;
  redis: Redis & RedisHealth;
  keys: Keys;
  hosts: HostStore;
  reads: MonitorReads;
  /** The monitor of this process, if it runs one (its ingest counters). */
  monitor: Monitor | undefined;
  /** Whether ejabberd is reachable: our link, or (role http) some front's. */
  xmppOnline: () => boolean;
}

/** The read-only HTTP status server over a live snapshot of the hosts. */
async function startStatusServer(parts: StatusServerParts) {
  const { config, log, redis, keys, hosts, reads, monitor, xmppOnline } = parts;
  const index = new HostIndex({ store: hosts, redis, keys, log: log.child({ part: "index" }) });
  await index.start();
  const redisUp = () =>
    redis.ping().then(
      () => true,
      () => false,
    );
  const http = await buildHttpServer({
    index,
    details: monitorStatusDetails(reads),
    log: log.child({ part: "http" }),
    access: config.http,
    streams: { max: config.http.maxStreams, bufferBytes: config.http.streamBufferBytes },
    health: async () => ({ xmpp: xmppOnline(), redis: await redisUp() }),
    metrics: {
      processing: monitorProcessing(monitor, reads, redis, keys),
      xmppOnline,
      redisLatency: async () => {
        const start = process.hrtime.bigint();
        await redis.ping();
        return Number(process.hrtime.bigint() - start) / 1e9;
      },
    },
  });
  const httpUrl = await http.listen({ host: config.http.host, port: config.http.port });
  log.info({ url: httpUrl }, "status page listening");
  return { http, httpUrl, index };
}

/** A process of role `ingest`: no link, no HTTP; the ingest shards it holds by lease. */
export interface RunningIngest {
  readonly role: "ingest";
  redis: Redis & RedisHealth;
  worker: IngestWorker;
  stop(options?: { release?: boolean }): Promise<void>;
}

export async function startIngest(config: ComponentConfig, log: Logger): Promise<RunningIngest> {
  const { redis, keys } = connectRedis(config, log);
  const worker = await startIngestWorker({
    redis,
    keys,
    log: log.child({ part: "monitor" }),
    monitor: config.monitor,
    isAgent: agentPolicy(config.monitor).isAgent,
  });
  log.info({ instance: worker.instanceId }, "ingest worker started");
  return {
    role: "ingest",
    redis,
    worker,
    async stop(options) {
      await worker.stop(options);
      redis.disconnect();
    },
  };
}

/** A process of role `http`: the status page (and /metrics, /healthz) on Redis, no link. */
export interface RunningHttp {
  readonly role: "http";
  redis: Redis & RedisHealth;
  http: FastifyInstance;
  httpUrl: string;
  stop(): Promise<void>;
}

export async function startHttp(config: ComponentConfig, log: Logger): Promise<RunningHttp> {
  if (!config.http.enabled) throw new Error("role http needs http.enabled");
  assertHttpAccess(config.http);
  const { redis, keys, hosts } = connectRedis(config, log);
  const reads = monitorReads({ redis, keys, hosts, log: log.child({ part: "monitor" }) });
  const fronts = watchFronts(redis, keys);
  const { http, httpUrl, index } = await startStatusServer({
    config,
    log,
    redis,
    keys,
    hosts,
    reads,
    monitor: undefined,
    xmppOnline: () => fronts.online(),
  });
  return {
    role: "http",
    redis,
    http,
    httpUrl,
    async stop() {
      fronts.stop();
      index.stop();
      await http.close();
      reads.stop();
      redis.disconnect();
    },
  };
}

/** Start what `config.role` names (the `jabmon component` command). */
export async function startRole(
  config: ComponentConfig,
  log: Logger,
): Promise<RunningComponent | RunningIngest | RunningHttp> {
  // The gateway calls RPC in-process, and RPC needs the link: a front's job.
  if (config.gateway.enabled && !LINK_ROLES.includes(config.role))
    log.warn(
      { role: config.role },
      "gateway.enabled is ignored here: the gateway runs in role xmpp or all",
    );
  if (config.role === "ingest") return startIngest(config, log);
  if (config.role === "http") return startHttp(config, log);
  return startComponent(config, log);
}

export {
  type RedisPersistence,
  readRedisPersistence,
  reportRedisPersistence,
} from "./persistence.js";
