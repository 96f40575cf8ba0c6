/**
 * The component process, assembled: the XEP-0114 link, disco, the monitor,
 * the Redis store and the HTTP status server. `jabmon component` runs this.
 */
import type { FastifyInstance } from "fastify";
import { type ComponentLink, componentLink, registerBuiltins } from "../component/index.js";
import type { ComponentConfig } from "../config/index.js";
import { discoService } from "../disco/index.js";
import { buildHttpServer } from "../http/index.js";
import type { Logger } from "../log/index.js";
import { type Monitor, PresenceTracker, startMonitor } from "../monitor/index.js";
import { NS_JABMON, NS_PING, NS_VERSION } from "../protocol/index.js";
import { createRedis, HostStore, Keys, type Redis } from "../store/index.js";
import { VERSION } from "../version.js";

export interface RunningComponent {
  link: ComponentLink;
  redis: Redis;
  hosts: HostStore;
  presence: PresenceTracker;
  monitor: Monitor;
  http: FastifyInstance | undefined;
  /** The HTTP address actually bound (port 0 picks a free one). */
  httpUrl: string | undefined;
  stop(): Promise<void>;
}

export async function startComponent(
  config: ComponentConfig,
  log: Logger,
): Promise<RunningComponent> {
  const redis = createRedis(config.redis.url, log.child({ part: "redis" }), "jabmon-component");
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
  for (const feature of [NS_PING, NS_VERSION, NS_JABMON]) disco.addFeature(feature);

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
  });

  let http: FastifyInstance | undefined;
  let httpUrl: string | undefined;
  if (config.http.enabled) {
    http = await buildHttpServer({
      hosts,
      log: log.child({ part: "http" }),
      health: async () => ({
        xmpp: link.isOnline(),
        redis: await redis.ping().then(
          () => true,
          () => false,
        ),
      }),
    });
    httpUrl = await http.listen({ host: config.http.host, port: config.http.port });
    log.info({ url: httpUrl }, "status page listening");
  }

  await link.start();
  log.info({ jid: config.xmpp.jid, service: config.xmpp.service }, "component online");

  return {
    link,
    redis,
    hosts,
    presence,
    monitor,
    http,
    httpUrl,
    async stop() {
      presence.stop();
      await monitor.stop();
      await http?.close();
      await link.stop();
      redis.disconnect();
    },
  };
}
