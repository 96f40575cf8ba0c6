/**
 * The component's RPC endpoint, assembled: the service on the router, the
 * methods on a backend made of the HostStore, the AgentForwarder (with its
 * Redis queue, drained on hostOnline) and the alerts backend (the monitor's:
 * `monitorAlertsBackend(monitor)`).
 */
import type { ComponentLink } from "../component/index.js";
import type { Logger } from "../log/index.js";
import type { HostStore, Keys, Redis } from "../store/index.js";
import { type AlertsBackend, hostsBackend, type RpcBackend } from "./backend.js";
import { type DowntimeStoreLike, registerDowntimeMethods } from "./downtime.js";
import { AgentForwarder } from "./forward.js";
import { parseDuration, registerComponentMethods } from "./methods.js";
import { RedisRpcQueue, type RpcQueue } from "./queue.js";
import { type RpcAccessConfig, type RpcService, rpcService } from "./service.js";

export interface RpcConfig extends RpcAccessConfig {
  maxCallBytes: number;
  /** The largest answer, in bytes of the whole IQ (docs/rpc.md, "Pages and the reply limit"). */
  maxReplyBytes: number;
  offlineExpiryS: number;
  maxQueuedPerAgent: number;
  maxPendingPerCaller: number;
  agentTimeoutMs: number;
  sweepMs: number;
}

export interface RpcEndpointOptions {
  link: ComponentLink;
  hosts: HostStore;
  redis: Redis;
  keys: Keys;
  /** Something that emits hostOnline(jid), i.e. the PresenceTracker. */
  presence: { on(event: "hostOnline", listener: (jid: string) => void): unknown };
  config: RpcConfig;
  log: Logger;
  /** The monitor's alerts and silences: `monitorAlertsBackend(monitor)`. */
  alerts: AlertsBackend;
  /** Another RpcQueue in place of RedisRpcQueue. */
  queue?: RpcQueue;
  /** Scheduled downtime (downtime.* methods): `monitor.gate.downtimes`. */
  downtimes?: DowntimeStoreLike;
}

export interface RpcEndpoint {
  service: RpcService;
  forwarder: AgentForwarder;
  /** Call once the link is online: sweeps expired requests, drains online agents. */
  start(): Promise<void>;
  stop(): void;
}

export function rpcEndpoint(options: RpcEndpointOptions): RpcEndpoint {
  const { link, hosts, config, log } = options;
  const service = rpcService({
    router: link.router,
    log,
    access: { admins: config.admins, viewers: config.viewers },
    maxCallBytes: config.maxCallBytes,
    maxReplyBytes: config.maxReplyBytes,
    maxPendingPerCaller: config.maxPendingPerCaller,
  });
  const forwarder = new AgentForwarder({
    link,
    hosts,
    queue: options.queue ?? new RedisRpcQueue(options.redis, options.keys),
    log,
    defaultExpiryS: config.offlineExpiryS,
    maxQueuedPerAgent: config.maxQueuedPerAgent,
    agentTimeoutMs: config.agentTimeoutMs,
    sweepMs: config.sweepMs,
    maxReplyBytes: config.maxReplyBytes,
  });
  const backend: RpcBackend = {
    ...hostsBackend(hosts),
    ...options.alerts,
    runCheck: (jid, check, o) => forwarder.runCheck(jid, check, o),
    reloadAgent: (jid, o) => forwarder.reloadAgent(jid, o),
  };
  registerComponentMethods(service, backend);
  if (options.downtimes) registerDowntimeMethods(service, options.downtimes, parseDuration);
  options.presence.on("hostOnline", (jid) => forwarder.hostOnline(jid));
  return {
    service,
    forwarder,
    start: () => forwarder.start(),
    stop: () => forwarder.stop(),
  };
}
