/**
 * The component process, assembled: the XEP-0114 link, disco, the monitor,
 * the Redis store and the HTTP status server. `jabmon component` runs this.
 */
import type { FastifyInstance } from "fastify";
import { type ComponentLink, componentLink, registerBuiltins } from "../component/index.js";
import type { ComponentConfig } from "../config/index.js";
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
import { type Monitor, PresenceTracker, pubsubSink, startMonitor } from "../monitor/index.js";
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

export async function startComponent(
  config: ComponentConfig,
  log: Logger,
): Promise<RunningComponent> {
  // Refuse an open status page before touching Redis or ejabberd.
  if (config.http.enabled) assertHttpAccess(config.http);
  // The default agent policy is open by domain: fine on a domain of agents, not
  // on one people share; the operator should decide (docs/security.md).
  const openPolicy = openAgentPolicyWarning(config.monitor);
  if (openPolicy) log.warn({ agentDomains: config.monitor.agentDomains }, openPolicy);
  const redis = createRedis(config.redis.url, log.child({ part: "redis" }), {
    name: "jabmon-component",
    offlineQueueMax: config.redis.offlineQueueMax,
  });
  // In the background: a slow or restarting Redis must not delay start-up for a log line.
  void reportRedisPersistence(redis, log.child({ part: "redis" }));
  const keys = new Keys(config.redis.prefix);
  const hosts = new HostStore(redis, keys);
  const link = componentLink({
    service: config.xmpp.service,
    domain: config.xmpp.jid,
    password: config.xmpp.password,
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
  });
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

  const status = config.http.enabled
    ? await startStatusServer({ config, log, link, redis, keys, hosts, monitor })
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
      await link.stop();
      answers.stop();
      redis.disconnect();
    },
  };
}

interface StatusServerParts {
  config: ComponentConfig;
  log: Logger;
  link: ComponentLink;
  redis: Redis & RedisHealth;
  keys: Keys;
  hosts: HostStore;
  monitor: Monitor;
}

/** The read-only HTTP status server over a live snapshot of the hosts. */
async function startStatusServer(parts: StatusServerParts) {
  const { config, log, link, redis, keys, hosts, monitor } = parts;
  const index = new HostIndex({ store: hosts, redis, keys, log: log.child({ part: "index" }) });
  await index.start();
  const redisUp = () =>
    redis.ping().then(
      () => true,
      () => false,
    );
  const http = await buildHttpServer({
    index,
    details: monitorStatusDetails(monitor),
    log: log.child({ part: "http" }),
    access: config.http,
    streams: { max: config.http.maxStreams, bufferBytes: config.http.streamBufferBytes },
    health: async () => ({ xmpp: link.isOnline(), redis: await redisUp() }),
    metrics: {
      processing: monitorProcessing(monitor, redis, keys),
      xmppOnline: () => link.isOnline(),
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

export {
  type RedisPersistence,
  readRedisPersistence,
  reportRedisPersistence,
} from "./persistence.js";
