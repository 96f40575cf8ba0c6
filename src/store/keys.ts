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

  /** Set: nodes with pubsub#item_expire > 0, swept for aged-out items. */
  psExpiring(): string {
    return `${this.prefix}ps:expiring`;
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
  ingest(shard: number): string {
    return `${this.prefix}ingest:${shard}`;
  }

  /** Everything under this prefix, for cleanup. */
  pattern(): string {
    return `${this.prefix}*`;
  }
}
