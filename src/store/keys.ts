/**
 * Every Redis key jabmon uses, built in one place (as BullMQ's QueueKeys).
 * The prefix lets several deployments, or test runs, share one Redis.
 */
export class Keys {
  constructor(readonly prefix: string) {}

  /** Hash: one host's presence-derived state. */
  host(bareJid: string): string {
    return `${this.prefix}host:${bareJid}`;
  }

  /** Sorted set of every known host's bare JID, scored by last-seen time (ms). */
  hosts(): string {
    return `${this.prefix}hosts`;
  }

  /** Pub/sub channel: a host's bare JID is published here whenever its record changes. */
  changes(): string {
    return `${this.prefix}changes`;
  }

  /** List: ids of RPC requests waiting for an offline agent, oldest first (src/rpc/queue.ts). */
  rpcQueue(bareJid: string): string {
    return `${this.prefix}rpc:queue:${bareJid}`;
  }

  /** Hash: queued RPC request id → JSON (agent, method, params, caller, times). */
  rpcRequests(): string {
    return `${this.prefix}rpc:requests`;
  }

  /** Sorted set: queued RPC request id scored by its expiry time (ms). */
  rpcExpiries(): string {
    return `${this.prefix}rpc:expiries`;
  }

  /** Everything under this prefix, for cleanup. */
  pattern(): string {
    return `${this.prefix}*`;
  }
}
