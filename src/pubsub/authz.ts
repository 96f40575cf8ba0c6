/**
 * Who may do what: admins and the component act as owners of every node,
 * configured subscribers (alertbots) read every node as a member would,
 * creators may create nodes, an agent creates only its own node; the access
 * models of a node decide the rest. And the quotas that bound subscriptions.
 * Decided once, at setup, from the options.
 *
 * https://xmpp.org/extensions/xep-0060.html#affiliations
 * https://xmpp.org/extensions/xep-0060.html#accessmodels
 */
import { bareJid } from "../xmpp/index.js";
import type { NodeRecord } from "./config.js";
import { pubsubError } from "./errors.js";
import { ALERTPUBLISHERS, agentOf, type Requester } from "./names.js";
import type { PubsubOptions } from "./options.js";
import {
  type Affiliation,
  type OwnerQuota,
  ownerQuota,
  type PubsubStore,
  type Subscription,
  type SubscriptionQuota,
} from "./store.js";

const SUBSCRIBED_AFFS = new Set<Affiliation>(["owner", "publisher", "member"]);

/** A node and where the requester stands on it. */
export interface NodeState {
  record: NodeRecord;
  affiliation: Affiliation;
  subscription: Subscription | undefined;
}

export interface Access {
  /** The configured admins (lower-cased): they also answer authorization requests nobody else can. */
  readonly admins: ReadonlySet<string>;
  /** Admins and the component itself act as owners everywhere. */
  privileged(bare: string): boolean;
  isOwner(bare: string, affiliation: Affiliation): boolean;
  /** Configured subscribers read every node as a member would. */
  mayRead(bare: string, affiliation: Affiliation): boolean;
  /** Refuses a retrieval (or an item listing) the access model does not allow. */
  checkRead(state: NodeState, bare: string): void;
  /**
   * Subscription quotas for a subscriber of `node` (0: none): admins are not
   * limited; configured subscribers (alertbots follow every agent) not per
   * JID; the component's own nodes (the modules index and modules, every
   * agent of the fleet subscribes to them) not per node.
   */
  quotaFor(subscriberBare: string, node: NodeRecord): SubscriptionQuota;
  /** The quota on what a node owner stores; admins' and the component's nodes have none. */
  readonly ownerQuota: OwnerQuota;
  /** Keep a name for the component (its own nodes, by ensureNode). */
  reserve(node: string): void;
  /** Refuses a reserved name to all but the component and admins (`alertpublishers` to all). */
  checkReserved(node: string, bare: string): void;
  /** Refuses a `<create/>` of a node this requester may not create. */
  checkCreate(node: string, bare: string): void;
  /** Refuses an agent node whose JID is not an agent (docs/security.md). */
  checkAgent(agent: string | undefined): void;
  /** The node (item-not-found if none) and the requester's affiliation and subscription. */
  loadNode(node: string, who: Requester): Promise<NodeState>;
  /** The same, for node owners only. */
  ownerNode(node: string, who: Requester): Promise<NodeState>;
}

export interface AccessDeps {
  options: PubsubOptions;
  /** The component's JID. */
  self: string;
  isAgent: (bare: string) => boolean;
  store: PubsubStore;
}

export function accessPolicy({ options, self, isAgent, store }: AccessDeps): Access {
  const component = bareJid(self);
  const admins = new Set(options.admins.map(bareJid));
  const readers = new Set((options.subscribers ?? []).map(bareJid));
  const creatorJids = new Set(options.creators.filter((c) => !c.startsWith("@")).map(bareJid));
  const creatorDomains = new Set(
    options.creators.filter((c) => c.startsWith("@")).map((c) => c.slice(1).toLowerCase()),
  );
  /** Names only the component and admins may create: its own nodes (`alerts`, by ensureNode). */
  const reserved = new Set<string>([ALERTPUBLISHERS]);

  const privileged = (bare: string) => admins.has(bare) || bare === component;
  const isOwner = (bare: string, aff: Affiliation) => aff === "owner" || privileged(bare);
  const mayRead = (bare: string, aff: Affiliation) =>
    privileged(bare) || SUBSCRIBED_AFFS.has(aff) || (readers.has(bare) && aff !== "outcast");
  /** May create nodes other than its own agent node. */
  const mayCreate = (bare: string) =>
    privileged(bare) || creatorJids.has(bare) || creatorDomains.has(bare.split("@")[1] ?? "");

  function checkAgent(agent: string | undefined) {
    if (agent !== undefined && !isAgent(agent))
      throw pubsubError("JABMON_ERR_NOT_AN_AGENT", `${agent} is not an agent`);
  }

  async function loadNode(node: string, who: Requester): Promise<NodeState> {
    const state = await store.nodeFor(node, who.bare, who.jid);
    if (!state.record) throw pubsubError("JABMON_ERR_NODE_NOT_FOUND", `no node ${node}`);
    return { ...state, record: state.record };
  }

  return {
    admins,
    privileged,
    isOwner,
    mayRead,
    checkRead({ record, affiliation, subscription }, bare) {
      if (privileged(bare)) return;
      if (affiliation === "outcast") throw pubsubError("JABMON_ERR_OUTCAST");
      if (mayRead(bare, affiliation)) return;
      if (record.accessModel === "open") return;
      if (record.accessModel === "whitelist") throw pubsubError("JABMON_ERR_CLOSED_NODE");
      if (subscription?.state === "subscribed") return;
      if (subscription?.state === "pending") throw pubsubError("JABMON_ERR_PENDING_SUBSCRIPTION");
      throw pubsubError("JABMON_ERR_NOT_AUTHORIZED");
    },
    quotaFor: (subscriberBare, node) =>
      privileged(subscriberBare)
        ? { perNode: 0, perJid: 0 }
        : {
            perNode: bareJid(node.owner) === component ? 0 : options.maxSubscribersPerNode,
            perJid: readers.has(subscriberBare) ? 0 : options.maxSubscriptionsPerJid,
          },
    ownerQuota: ownerQuota(options.maxItemsPerJid ?? 0, options.maxBytesPerJid ?? 0, [
      component,
      ...admins,
    ]),
    reserve: (node) => void reserved.add(node),
    checkReserved(node, bare) {
      // Refused even after an operator deleted the node, so nobody else can
      // take it over before the component recreates it.
      if (reserved.has(node) && (node === ALERTPUBLISHERS || !privileged(bare)))
        throw pubsubError("JABMON_ERR_NODE_EXISTS", "reserved node name");
    },
    checkCreate(node, bare) {
      const agent = agentOf(node);
      if (agent !== undefined && agent !== bare && !privileged(bare))
        throw pubsubError("JABMON_ERR_AUTO_CREATE_FORBIDDEN", `only ${agent} may create ${node}`);
      if (agent === undefined && !mayCreate(bare))
        throw pubsubError(
          "JABMON_ERR_CREATE_FORBIDDEN",
          "you may create only your own agents/<bare JID> node",
        );
      checkAgent(agent);
    },
    checkAgent,
    loadNode,
    async ownerNode(node, who) {
      const state = await loadNode(node, who);
      if (!isOwner(who.bare, state.affiliation))
        throw pubsubError("JABMON_ERR_NOT_OWNER", "node owners only");
      return state;
    },
  };
}
