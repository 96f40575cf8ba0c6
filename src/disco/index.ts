/**
 * XEP-0030 Service Discovery for the component: identities and features of
 * the service itself, and providers that other folders (pubsub) register for
 * their nodes.
 *
 * https://xmpp.org/extensions/xep-0030.html
 */
import type { IqRequest, Router } from "../component/index.js";
import { NS_DISCO_INFO, NS_DISCO_ITEMS } from "../protocol/index.js";
import { type Element, el, StanzaError } from "../xmpp/index.js";

export interface Identity {
  category: string;
  type: string;
  name?: string;
}

export interface DiscoItem {
  jid: string;
  node?: string;
  name?: string;
}

export interface NodeInfo {
  identities: Identity[];
  features: string[];
  /** Extra children, e.g. a XEP-0128 data form with node metadata. */
  extensions?: Element[];
}

/** Returns undefined when the provider does not know the node. */
export type InfoProvider = (
  node: string,
  from: string,
) => Promise<NodeInfo | undefined> | NodeInfo | undefined;
/**
 * One page of a node's items and the XEP-0059 `<set/>` that describes it (when
 * the request asked for paging or the provider limited the answer).
 */
export interface DiscoItemsPage {
  items: DiscoItem[];
  set?: Element;
}
/**
 * `query` is the request's `<query/>`, for providers that read an RSM `<set/>`
 * in it; `stanza` the whole IQ, for providers that bound their reply's size
 * (the reply echoes its id and addresses).
 */
export type ItemsProvider = (
  node: string,
  from: string,
  query: Element,
  stanza: Element,
) => Promise<DiscoItem[] | DiscoItemsPage | undefined> | DiscoItem[] | DiscoItemsPage | undefined;

export interface DiscoService {
  addIdentity(identity: Identity): void;
  addFeature(feature: string): void;
  addInfoProvider(provider: InfoProvider): void;
  addItemsProvider(provider: ItemsProvider): void;
  /** The service's own features (for tests and for building caps). */
  features(): string[];
}

function infoElement(node: string | undefined, info: NodeInfo): Element {
  const query = el("query", { xmlns: NS_DISCO_INFO, node });
  for (const identity of info.identities) query.cnode(el("identity", { ...identity }));
  for (const feature of info.features) query.cnode(el("feature", { var: feature }));
  for (const extension of info.extensions ?? []) query.cnode(extension);
  return query;
}

export function discoService({ router }: { router: Router }): DiscoService {
  const identities: Identity[] = [];
  const features = new Set<string>([NS_DISCO_INFO, NS_DISCO_ITEMS]);
  const infoProviders: InfoProvider[] = [];
  const itemsProviders: ItemsProvider[] = [];

  router.get(NS_DISCO_INFO, "query", async ({ element, from }: IqRequest) => {
    const node = element.attrs.node as string | undefined;
    if (!node) return infoElement(undefined, { identities, features: [...features] });
    for (const provider of infoProviders) {
      const info = await provider(node, from);
      if (info) return infoElement(node, info);
    }
    throw new StanzaError("item-not-found", { text: `no node ${node}` });
  });

  router.get(NS_DISCO_ITEMS, "query", async ({ element, from, stanza }: IqRequest) => {
    const node = (element.attrs.node as string | undefined) ?? "";
    const query = el("query", { xmlns: NS_DISCO_ITEMS, node: node || undefined });
    let known = node === "";
    for (const provider of itemsProviders) {
      const answer = await provider(node, from, element, stanza);
      if (!answer) continue;
      known = true;
      const page = Array.isArray(answer) ? { items: answer } : answer;
      for (const item of page.items) query.cnode(el("item", { ...item }));
      // XEP-0059: the <set/> follows the items it describes.
      if (page.set) query.cnode(page.set);
    }
    if (!known) throw new StanzaError("item-not-found", { text: `no node ${node}` });
    return query;
  });

  return {
    addIdentity: (identity) => identities.push(identity),
    addFeature: (feature) => features.add(feature),
    addInfoProvider: (provider) => infoProviders.push(provider),
    addItemsProvider: (provider) => itemsProviders.push(provider),
    features: () => [...features],
  };
}
