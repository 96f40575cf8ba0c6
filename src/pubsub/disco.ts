/**
 * The service and its nodes in service discovery (XEP-0060 §5): the service's
 * identity and features; disco#info on a node with its pubsub#meta-data;
 * disco#items of the service (its nodes), of `alertpublishers` (the agent
 * nodes) and of a node (its item ids), each in XEP-0059 pages within the
 * reply limit.
 *
 * https://xmpp.org/extensions/xep-0060.html#entity
 * https://xmpp.org/extensions/xep-0059.html (paging disco#items)
 */
import type { DiscoItem, DiscoItemsPage, DiscoService } from "../disco/index.js";
import { NS_DISCO_ITEMS, NS_PUBSUB, NS_RSM } from "../protocol/index.js";
import { type Element, el } from "../xmpp/index.js";
import { metadataForm } from "./config.js";
import type { PubsubContext } from "./context.js";
import { pubsubError } from "./errors.js";
import { ALERTPUBLISHERS, agentOwnerOf, NODE_NAME, requester } from "./names.js";
import {
  byteSize,
  fitPage,
  fromEnd,
  type PagingLimits,
  pageRequest,
  RSM_RESERVE,
  replyBudget,
  rsmSet,
} from "./rsm.js";
import type { Page, PageRequest, PubsubStore } from "./store.js";

const FEATURES = [
  "access-authorize",
  "access-open",
  "access-whitelist",
  "auto-create",
  "config-node",
  "create-and-configure",
  "create-nodes",
  "delete-items",
  "delete-nodes",
  "instant-nodes",
  "item-ids",
  "last-published",
  "manage-subscriptions",
  "member-affiliation",
  "meta-data",
  "modify-affiliations",
  "outcast-affiliation",
  "persistent-items",
  "publish",
  "publish-options",
  "publisher-affiliation",
  "purge-nodes",
  "retract-items",
  "retrieve-affiliations",
  "retrieve-default",
  "retrieve-items",
  "retrieve-subscriptions",
  "rsm",
  "subscribe",
  "subscription-notifications",
  "subscription-options",
].map((f) => `${NS_PUBSUB}#${f}`);

async function discoPage(
  store: PubsubStore,
  key: string,
  request: PageRequest,
  head?: string,
): Promise<Page> {
  const page = await store.page(key, request, head);
  if (!page)
    throw pubsubError("JABMON_ERR_RSM_ITEM_NOT_FOUND", "no entry with that id to page from");
  return page;
}

interface Listing {
  /** The sorted set listed. */
  key: string;
  set: Element | undefined;
  budget: number;
  item: (id: string) => DiscoItem;
  /** An entry listed before the set's (alertpublishers in the service's listing). */
  head?: string;
}

/**
 * A disco#items listing of a sorted set: one XEP-0059 page (without `<set/>`
 * the first maxDiscoItems entries), cut to the reply budget. The `<set/>`
 * comes when asked for, or unsolicited when the listing was cut, so a client
 * knows to page on.
 */
async function discoListing(
  ctx: PubsubContext,
  { key, set, budget, item, head }: Listing,
): Promise<DiscoItemsPage> {
  const limits: PagingLimits = ctx.options;
  // The service's listing has always shown alertpublishers plus maxDiscoItems nodes.
  const request: PageRequest = set
    ? pageRequest(set, limits.maxDiscoItems)
    : { mode: "index", index: 0, max: limits.maxDiscoItems + (head ? 1 : 0) };
  const page = fitPage(
    limits,
    await discoPage(ctx.store, key, request, head),
    (id) => byteSize(el("item", { ...item(id) })),
    budget,
    fromEnd(request),
  );
  const cut = page.count > page.ids.length;
  return { items: page.ids.map(item), set: set || cut ? rsmSet(page) : undefined };
}

/** disco#items bytes left for the items: the reply budget less `<query node/>` and the `<set/>`. */
const discoBudget = (ctx: PubsubContext, stanza: Element, node: string) =>
  replyBudget(ctx.options, stanza) -
  byteSize(el("query", { xmlns: NS_DISCO_ITEMS, node: node || undefined })) -
  RSM_RESERVE;

/**
 * Register the service with disco. `plainNodesIndexed` settles once the nodes
 * of an older jabmon are in the plain-node index the service's listing reads.
 */
export function registerDisco(
  ctx: PubsubContext,
  disco: DiscoService,
  plainNodesIndexed: Promise<void>,
): void {
  const { store, keys, access } = ctx;
  const self = ctx.link.jid;
  disco.addIdentity({ category: "pubsub", type: "service", name: "jabmon pubsub" });
  disco.addFeature(NS_PUBSUB);
  disco.addFeature(NS_RSM);
  for (const feature of FEATURES) disco.addFeature(feature);

  disco.addInfoProvider(async (node) => {
    if (node === ALERTPUBLISHERS)
      return {
        identities: [{ category: "pubsub", type: "collection", name: "jabmon agents" }],
        features: [NS_PUBSUB],
      };
    if (!NODE_NAME.test(node)) return undefined;
    const record = await store.node(node);
    if (!record) return undefined;
    return {
      identities: [{ category: "pubsub", type: "leaf" }],
      features: [NS_PUBSUB],
      extensions: [metadataForm(record, await store.subscriberCount(node))],
    };
  });

  disco.addItemsProvider(async (node, from, query, stanza) => {
    const set = query.getChild("set", NS_RSM);
    const budget = discoBudget(ctx, stanza, node);
    const who = requester(from);
    // Who may read every agent node sees the fleet.
    const everything = access.mayRead(who.bare, "none");
    // The service's listing: `alertpublishers` first, then the nodes oldest first
    // (ties by name); without the agent nodes for those who may not see the fleet.
    if (node === "") {
      if (!everything) await plainNodesIndexed;
      return discoListing(ctx, {
        key: everything ? keys.psNodes() : store.plainNodesKey,
        set,
        budget,
        item: (n) =>
          n === ALERTPUBLISHERS
            ? { jid: self, node: n, name: "agents publishing results" }
            : { jid: self, node: n },
        head: ALERTPUBLISHERS,
      });
    }
    if (node === ALERTPUBLISHERS) {
      // The agent inventory: only for those who may read every agent node.
      if (!everything) throw pubsubError("JABMON_ERR_CLOSED_NODE");
      return discoListing(ctx, {
        key: keys.psAgents(),
        set,
        budget,
        item: (n) => ({ jid: self, node: n, name: agentOwnerOf(n) }),
      });
    }
    if (!NODE_NAME.test(node)) return undefined;
    const { record, affiliation, subscription } = await store.nodeFor(node, who.bare, who.jid);
    if (!record) return undefined;
    access.checkRead({ record, affiliation, subscription }, who.bare);
    return discoListing(ctx, {
      key: keys.psItems(node),
      set,
      budget,
      item: (id) => ({ jid: self, name: id }),
    });
  });
}
