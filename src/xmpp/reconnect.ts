/**
 * Keep an xmpp.js entity (component or client) connected, with exponential
 * backoff and jitter. xmpp.js's own reconnect retries every second forever and
 * does not cover a failed first start; a fleet of ten thousand agents retrying
 * in lockstep after a server restart is exactly the thundering herd we avoid.
 */
import type { Logger } from "../log/index.js";

export interface Connectable {
  status: string;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  reconnect?: { stop(): void };
}

/** xmpp.js internals used to reset a connection that stop() left half closed. */
interface ConnectionInternals {
  socket?: { destroy?(): void; on?(event: string, listener: () => void): void } | null;
  _detachSocket?(): void;
  _detachParser?(): void;
  _status?(status: string): void;
}

/**
 * Bring the entity to "offline" at once, whatever state it is in. Used before
 * every attempt: the previous one never came online or its connection is
 * gone, so there is no session to close gracefully, and xmpp.js's stop()
 * would wait for a dead or hung server to close the stream and the socket
 * (the entity's step timeout, 15 s, twice) before the next attempt could
 * start. It can also give up half way, and start() then refuses with
 * "Connection is not offline" for ever.
 */
function forceOffline(entity: Connectable): void {
  if (entity.status === "offline") return;
  const internals = entity as unknown as ConnectionInternals;
  // Detaching removes xmpp.js's own listeners; a reset arriving on the
  // abandoned socket afterwards would be an unhandled 'error' event and end
  // the process.
  internals.socket?.on?.("error", () => {});
  internals.socket?.destroy?.();
  internals._detachSocket?.();
  internals._detachParser?.();
  internals._status?.("offline");
}

/** On stop: a session is closed gracefully when the server answers within `graceMs`. */
async function closeSession(entity: Connectable, graceMs: number): Promise<void> {
  if (entity.status === "online") {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([entity.stop().catch(() => undefined), waited]);
    clearTimeout(timer);
  }
  forceOffline(entity);
}

/** How long stop() waits for the server to close a session before cutting it. */
const CLOSE_GRACE_MS = 3000;

export interface BackoffOptions {
  minDelayMs?: number;
  maxDelayMs?: number;
  /**
   * Servers to connect to, in order of preference (e.g. the nodes of an
   * ejabberd cluster). The entity stays with a server while it works; each
   * failed attempt moves to the next, so a dead node's sessions move to a live
   * one after one failed attempt. Default: the entity's own service only.
   */
  services?: string[];
  /**
   * Give up on a connection attempt that has not come online after this long
   * (default 15 s) and try the next server: a server that accepts TCP but
   * never answers (hung, or a dead node behind a load balancer) must not hold
   * the agent for ever.
   */
  startTimeoutMs?: number;
  log: Logger;
  /** Called on every successful (re)connection. */
  onOnline?: () => void;
  /**
   * An attempt that is neither online nor failed after this long is given up
   * and retried (default 15 s). A server that accepts TCP while it starts or
   * stops can leave xmpp.js waiting for a stream that never opens; without a
   * bound the entity would never try again.
   */
  connectTimeoutMs?: number;
  /**
   * Waited for before each attempt; the function it resolves with is called
   * when the attempt ends. A process holding many sessions (the restart
   * benchmark's 10,000) uses it to bound its negotiations in progress: each
   * host of a real fleet has its own CPU for its one handshake, one process
   * with ten thousand of them does not, and without a bound its own event
   * loop, not the server, would time the attempts out. Default: no wait.
   */
  admit?: () => Promise<() => void>;
}

export interface ConnectionKeeper {
  /** Resolves at the first successful connection. */
  firstOnline: Promise<void>;
  stop(): Promise<void>;
}

/** No reconnect waits less than this: a fleet never retries in a tight loop. */
export const RECONNECT_FLOOR_MS = 100;

/**
 * The wait before reconnect attempt `attempt` (0 for the first after a drop):
 * full jitter, uniform in [RECONNECT_FLOOR_MS, ceiling] where the ceiling is
 * min(maxDelayMs, minDelayMs * 2^attempt). Full rather than half jitter: a
 * fleet dropped at one instant (ejabberd restart) comes back spread over the
 * whole ceiling instead of bunched in its upper half. With the agent's
 * defaults (500 ms, 30 s) the ceiling is 30 s from the seventh attempt on, so
 * a live agent is back at most 30 s after the server accepts again.
 */
export function nextDelay(
  attempt: number,
  minDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.max(
    RECONNECT_FLOOR_MS,
    Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 20)),
  );
  return Math.round(RECONNECT_FLOOR_MS + random() * (ceiling - RECONNECT_FLOOR_MS));
}

class ConnectTimeoutError extends Error {
  override name = "ConnectTimeoutError";
}

/**
 * entity.start(), failing as soon as the connection closes before the session
 * is online (xmpp.js would wait for "online" for ever: e.g. a proxy that
 * accepts TCP in front of a dead server), or after `ms`.
 */
function startOrFail(entity: Connectable, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  let onDisconnect: (() => void) | undefined;
  const failed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConnectTimeoutError(`not online after ${ms} ms`)), ms);
    onDisconnect = () => reject(new Error("connection closed before the session was online"));
    entity.on("disconnect", onDisconnect);
  });
  const started = entity.start();
  // The abandoned attempt's own failure, if it comes later, is of no interest.
  started.catch(() => undefined);
  return Promise.race([started, failed]).finally(() => {
    clearTimeout(timer);
    const off = (entity as { removeListener?(e: string, l: () => void): void }).removeListener;
    if (onDisconnect) off?.call(entity, "disconnect", onDisconnect);
  });
}

export function keepConnected(entity: Connectable, options: BackoffOptions): ConnectionKeeper {
  const { log, minDelayMs = 500, maxDelayMs = 30_000 } = options;
  entity.reconnect?.stop();
  let attempt = 0;
  let stopped = false;
  let connecting = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveFirst!: () => void;
  const firstOnline = new Promise<void>((resolve) => {
    resolveFirst = resolve;
  });

  const schedule = () => {
    if (stopped || timer) return;
    const delay = nextDelay(attempt, minDelayMs, maxDelayMs);
    log.info({ attempt: attempt + 1, delayMs: delay }, "reconnecting after delay");
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
  };

  const services = options.services ?? [];
  let serviceIndex = 0;
  const useService = () => {
    const service = services[serviceIndex % services.length];
    const internals = entity as unknown as { options?: { service?: string } };
    if (service && internals.options) internals.options.service = service;
    return internals.options?.service;
  };

  const connect = async () => {
    // An attempt given up on (connectTimeoutMs) that made it after all.
    if (stopped || connecting || entity.status === "online") return;
    connecting = true;
    attempt += 1;
    const service = useService();
    const release = await options.admit?.();
    try {
      if (stopped) return;
      forceOffline(entity);
      log.info({ attempt, service }, "connecting");
      await startOrFail(entity, options.startTimeoutMs ?? options.connectTimeoutMs ?? 15_000);
    } catch (err) {
      log.warn({ attempt, service, err: (err as Error).message }, "connection attempt failed");
      serviceIndex += 1;
      schedule();
    } finally {
      connecting = false;
      release?.();
    }
  };

  entity.on("online", () => {
    attempt = 0;
    log.info("online");
    resolveFirst();
    options.onOnline?.();
  });
  entity.on("disconnect", () => {
    if (stopped || connecting) return;
    log.warn("disconnected");
    schedule();
  });
  // xmpp.js emits transport and stream errors here; without a listener Node would throw.
  entity.on("error", (err: Error) => {
    log.debug({ err: err.message }, "connection error");
  });

  void connect();

  return {
    firstOnline,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await closeSession(entity, CLOSE_GRACE_MS);
    },
  };
}

/** An `admit` for keepConnected: at most `limit` attempts in progress, the others wait their turn. */
export function admissionGate(limit: number): () => Promise<() => void> {
  let active = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    active -= 1;
    waiting.shift()?.();
  };
  return () =>
    new Promise((resolve) => {
      const enter = () => {
        active += 1;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          release();
        });
      };
      if (active < limit) enter();
      else waiting.push(enter);
    });
}
