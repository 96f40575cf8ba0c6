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

  /**
   * Hash: claimed host name (lower case) → the bare JID it is bound to; the
   * first agent to claim a name keeps it (docs/security.md, "Who counts as an agent").
   */
  hostNames(): string {
    return `${this.prefix}hostnames`;
  }

  /** Sorted set of every known host's bare JID, scored by last-seen time (ms). */
  hosts(): string {
    return `${this.prefix}hosts`;
  }

  /** Pub/sub channel: IQ answers for one component instance's requests that reached another (server/answer-relay.ts). */
  iqAnswers(instanceId: string): string {
    return `${this.prefix}iq-answers:${instanceId}`;
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

  // --- XEP-0060 pubsub (src/pubsub). Lua scripts that touch per-user sets build
  // those names from `prefix` with the same patterns as the methods below.

  /** Hash: one pubsub node's owner, counters (`seq`, `agentSeq`) and configuration. */
  psNode(node: string): string {
    return `${this.prefix}ps:node:${node}`;
  }

  /** Sorted set: item ids of a node scored by their per-node sequence. */
  psItems(node: string): string {
    return `${this.prefix}ps:items:${node}`;
  }

  /** Hash: item id → "nodeSeq publishedAt publisher payloadXml". */
  psItemData(node: string): string {
    return `${this.prefix}ps:data:${node}`;
  }

  /** Hash: bare JID → affiliation (owner, publisher, member, outcast). */
  psAffiliations(node: string): string {
    return `${this.prefix}ps:affs:${node}`;
  }

  /** Hash: subscriber JID → "state subid deliver" (state subscribed or pending). */
  psSubscriptions(node: string): string {
    return `${this.prefix}ps:subs:${node}`;
  }

  /** Set: JIDs that get notifications (subscribed with delivery on), read by each publish. */
  psDeliver(node: string): string {
    return `${this.prefix}ps:deliver:${node}`;
  }

  /** Sorted set: every node name, scored by creation time (ms). */
  psNodes(): string {
    return `${this.prefix}ps:nodes`;
  }

  /** Sorted set: every `agents/<bare JID>` node, scored by creation time (the alertpublishers list). */
  psAgents(): string {
    return `${this.prefix}ps:agents`;
  }

  /** Set: JIDs subscribed to `alertpublishers`, told when an agent node appears or goes. */
  psAgentListeners(): string {
    return `${this.prefix}ps:agent-listeners`;
  }

  /** Set: nodes with pubsub#item_expire > 0, swept for aged-out items. */
  psExpiring(): string {
    return `${this.prefix}ps:expiring`;
  }

  /** Hash items, bytes: what the stored items of the nodes a bare JID owns cost (its quota). */
  psUsage(bareJid: string): string {
    return `${this.prefix}ps:usage:${bareJid}`;
  }

  /** Set: nodes on which this bare JID has an affiliation. */
  psUserNodes(bareJid: string): string {
    return `${this.prefix}ps:user-nodes:${bareJid}`;
  }

  /** Set: "node\nsubscriber JID" for every subscription of this bare JID. */
  psUserSubs(bareJid: string): string {
    return `${this.prefix}ps:user-subs:${bareJid}`;
  }

  /**
   * Stream: every item stored on an `agents/*` node, exactly once, for the
   * monitor. `shard` is `ingestShard(owner bare JID)`.
   */
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

  /** Counter (INCR): the short number of each dispatched alert ("ack 42"). */
  alertSeq(): string {
    return `${this.prefix}alerts:seq`;
  }

  /** Counter (INCR): silence ids ("unsilence 3"). */
  silenceSeq(): string {
    return `${this.prefix}silences:seq`;
  }

  /**
   * Hash: "<jid>|<kind>|<check>" → the open problem (JSON: its first time, latest
   * alert, and what re-notification needs); removed on recovery. The one index
   * of open problems: `alerts:open` and `alerts:problems` of older versions are
   * no longer read.
   */
  openProblems(): string {
    return `${this.prefix}problems`;
  }

  /** Sorted set: fields of openProblems() scored by when each is next re-notified (ms). */
  renotifySchedule(): string {
    return `${this.prefix}problems:renotify`;
  }

  /** Prefix for BullMQ queues (webhook delivery). */
  bullPrefix(): string {
    return `${this.prefix}bull`;
  }

  // --- the monitoring plane's own health (src/monitor/hosts/plane.ts) ---

  /** Hash: open causes of the current plane incident ("link|<instance>", "mass", ...) → since (ms). */
  planeCauses(): string {
    return `${this.prefix}plane:causes`;
  }

  /** Hash: the open plane incident (id, since, cause); absent when the plane is healthy. */
  planeIncident(): string {
    return `${this.prefix}plane:incident`;
  }

  /** String: host-down alerts are held until this time (ms): the reconnect grace. */
  planeGraceUntil(): string {
    return `${this.prefix}plane:grace-until`;
  }

  /** Sorted set: hosts whose down alert is held, scored by when they went down (ms). */
  planeHeld(): string {
    return `${this.prefix}plane:held`;
  }

  /** Hash: component process instance id → its last heartbeat (ms). */
  planeBeats(): string {
    return `${this.prefix}plane:beats`;
  }

  /**
   * Sorted set: front processes (role all or xmpp) whose link to ejabberd is
   * online → until when that word holds (ms); read by link-less processes
   * (role http) for their health (src/server/fronts.ts).
   */
  frontsOnline(): string {
    return `${this.prefix}fronts:online`;
  }

  /** String with expiry: an event seen by every process (Redis back) is reported by the first only. */
  planeOnce(event: string): string {
    return `${this.prefix}plane:once:${event}`;
  }

  /** Everything under this prefix, for cleanup. */
  pattern(): string {
    return `${this.prefix}*`;
  }
}
