/**
 * What the pubsub service is configured with (the component config's `pubsub`
 * section) and the policy hooks other folders register on it.
 */
import type { Element } from "../xmpp/index.js";

export interface PubsubOptions {
  maxPayloadBytes: number;
  maxItemsLimit: number;
  defaultMaxItems: number;
  /** Bare JIDs treated as owners of every node (in any case: compared lower-cased). */
  admins: string[];
  /**
   * Bare JIDs that may subscribe to and retrieve every node, whatever its
   * access model (as a `member` could), and nothing more: alertbots.
   */
  subscribers?: string[];
  /** Nodes in the service's disco#items without RSM; the largest RSM page of any listing. */
  maxDiscoItems: number;
  /** How often nodes with pubsub#item_expire are swept (ms). */
  sweepMs?: number;
  /**
   * Largest reply (the whole IQ, serialised) of retrievals and listings: a
   * longer one is cut and carries an RSM `<set/>` to continue from.
   */
  maxReplyBytes: number;
  /** Who may create nodes besides agents (their own node) and admins: bare JIDs or "@domain". */
  creators: string[];
  /** Nodes one bare JID may create (its agents/<jid> node not counted); admins are not limited. */
  maxNodesPerJid: number;
  /** Subscriptions of one bare JID over all nodes and resources; admins and subscribers are not limited. */
  maxSubscriptionsPerJid: number;
  /** Subscriptions on one node (subscribed or pending): bounds each publish's fan-out. */
  maxSubscribersPerNode: number;
  /**
   * Items the nodes one bare JID owns may store together, and their bytes
   * (ids and records); absent or 0: no limit. Admins and the component are not
   * limited. A publish past either is refused (docs/security.md).
   */
  maxItemsPerJid?: number;
  maxBytesPerJid?: number;
  /**
   * Publishes being stored at once; one more is refused with a `wait`
   * `<resource-constraint/>` the agent's publisher retries with backoff, so a
   * fleet replaying its spools after an outage cannot swamp the component.
   */
  maxPublishesInFlight?: number;
  /**
   * Results waiting for the monitor above which agents' publishes get a
   * `wait` `<resource-constraint/>` (admission.ts); 0: no limit.
   */
  maxIngestBacklog?: number;
}

/**
 * Policy for a family of nodes, registered from outside the service (the
 * modules' ACL and audit: src/modules). A before-hook throws a PubsubError
 * (or StanzaError) to refuse the request; after-hooks must not throw. `bare`
 * is the requester's bare JID, lower-cased (names.ts).
 */
export interface PubsubHooks {
  beforeCreate?(node: string, bare: string): void | Promise<void>;
  beforePublish?(
    node: string,
    bare: string,
    itemId: string,
    payload: Element,
  ): void | Promise<void>;
  afterPublish?(node: string, bare: string, itemId: string, payload: Element): void;
  afterDelete?(node: string, bare: string): void;
}
