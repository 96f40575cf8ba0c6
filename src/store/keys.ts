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

  /** Everything under this prefix, for cleanup. */
  pattern(): string {
    return `${this.prefix}*`;
  }
}
