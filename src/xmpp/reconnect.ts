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
  socket?: { destroy?(): void } | null;
  _detachSocket?(): void;
  _detachParser?(): void;
  _status?(status: string): void;
}

/**
 * Bring the entity to "offline" whatever state it is in. stop() waits for the
 * server to close the stream and can give up half way (a timeout on a dead
 * link, a stream error mid-handshake); xmpp.js's start() then refuses with
 * "Connection is not offline", and every later attempt would fail the same way.
 */
async function resetToOffline(entity: Connectable): Promise<void> {
  if (entity.status === "offline") return;
  await entity.stop().catch(() => undefined);
  if (entity.status === "offline") return;
  const internals = entity as unknown as ConnectionInternals;
  internals.socket?.destroy?.();
  internals._detachSocket?.();
  internals._detachParser?.();
  internals._status?.("offline");
}

export interface BackoffOptions {
  minDelayMs?: number;
  maxDelayMs?: number;
  log: Logger;
  /** Called on every successful (re)connection. */
  onOnline?: () => void;
}

export interface ConnectionKeeper {
  /** Resolves at the first successful connection. */
  firstOnline: Promise<void>;
  stop(): Promise<void>;
}

export function nextDelay(attempt: number, minDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 20));
  // Full jitter on the upper half keeps retries spread but never shorter than half the ceiling.
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
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

  const connect = async () => {
    if (stopped || connecting) return;
    connecting = true;
    attempt += 1;
    try {
      await resetToOffline(entity);
      log.info({ attempt }, "connecting");
      await entity.start();
    } catch (err) {
      log.warn({ attempt, err: (err as Error).message }, "connection attempt failed");
      connecting = false;
      schedule();
      return;
    }
    connecting = false;
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
      await entity.stop().catch(() => undefined);
    },
  };
}
