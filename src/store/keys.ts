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

  /** Stream: ingest entries for agents whose bare JID hashes to `shard` (written by pubsub). */
  ingest(shard: number): string {
    return `${this.prefix}ingest:${shard}`;
  }

  // --- monitor (docs/monitor.md) ---

  /** String: which monitor instance holds the lease on an ingest shard (SET NX PX). */
  monitorLease(shard: number): string {
    return `${this.prefix}monitor:lease:${shard}`;
  }

  /** Sorted set: live monitor instances, scored by last heartbeat (ms). */
  monitorInstances(): string {
    return `${this.prefix}monitor:instances`;
  }

  /** Hash: monitor instance id → {pid, hostname, startedAt} (JSON), for operators. */
  monitorInstanceInfo(): string {
    return `${this.prefix}monitor:instanceinfo`;
  }

  /** Hash: check name → current state, for one host. */
  checks(bareJid: string): string {
    return `${this.prefix}checks:${bareJid}`;
  }

  /** Hash: one check's current result (state, output, since, metrics JSON...). */
  check(bareJid: string, name: string): string {
    return `${this.prefix}check:${bareJid}:${name}`;
  }

  /** List (newest first): a check's state changes, bounded. */
  checkHistory(bareJid: string, name: string): string {
    return `${this.prefix}checkhist:${bareJid}:${name}`;
  }

  /** List (newest first): a check's last 21 states, for flap detection. */
  flapWindow(bareJid: string, name: string): string {
    return `${this.prefix}flap:${bareJid}:${name}`;
  }

  /** List (newest first): a host's recent events, bounded. */
  events(bareJid: string): string {
    return `${this.prefix}events:${bareJid}`;
  }

  /** List (newest first): a host's backup reports, bounded. */
  backups(bareJid: string): string {
    return `${this.prefix}backups:${bareJid}`;
  }

  /** Hash: backup job → latest report (JSON). */
  backupLatest(bareJid: string): string {
    return `${this.prefix}backuplast:${bareJid}`;
  }

  /** Set: "check/metric" series a host has. */
  metricSeries(bareJid: string): string {
    return `${this.prefix}metrics:${bareJid}`;
  }

  /** Sorted set: raw samples of one series (score = time ms, member = "time:value"). */
  metricRaw(bareJid: string, series: string): string {
    return `${this.prefix}mraw:${bareJid}:${series}`;
  }

  /** Hash: per-minute sums and counts of one series ("<minute>:s", "<minute>:n"). */
  metricAgg(bareJid: string, series: string): string {
    return `${this.prefix}magg:${bareJid}:${series}`;
  }

  /** Sorted set: the minutes present in metricAgg, for trimming. */
  metricAggIndex(bareJid: string, series: string): string {
    return `${this.prefix}maggidx:${bareJid}:${series}`;
  }

  /** Stream: alert outbox, written in the same script as the state change it reports. */
  alertOutbox(): string {
    return `${this.prefix}alerts:outbox`;
  }

  /** Stream: alerts as dispatched (delivered or suppressed, and why), bounded. */
  alertLog(): string {
    return `${this.prefix}alerts:log`;
  }

  /** Hash: silence id → silence (JSON). */
  silences(): string {
    return `${this.prefix}silences`;
  }

  /** Hash: "<jid>|<check>" → acknowledgement (JSON); check is empty for the host itself. */
  acks(): string {
    return `${this.prefix}acks`;
  }

  /** List: things waiting for an offline agent, oldest first (JSON entries with expiry). */
  offlineQueue(bareJid: string): string {
    return `${this.prefix}offq:${bareJid}`;
  }

  /** Prefix for BullMQ queues (webhook delivery). */
  bullPrefix(): string {
    return `${this.prefix}bull`;
  }

  /** Everything under this prefix, for cleanup. */
  pattern(): string {
    return `${this.prefix}*`;
  }
}
