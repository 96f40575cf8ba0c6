/**
 * The XEP-0060 pubsub service at the component's own JID: nodes, items,
 * subscriptions, affiliations, event notifications and disco, stored in Redis
 * through store.ts. Agents publish to `agents/<bare JID>`; the node
 * `alertpublishers` lists every agent node by disco#items.
 *
 * This file routes each request to its use case and wires the service up;
 * the use cases live beside it (docs/pubsub.md, "Code layout"): publish.ts,
 * retrieve.ts, subscriptions.ts, owner.ts, authz.ts, notify.ts, disco.ts.
 *
 * https://xmpp.org/extensions/xep-0060.html
 * https://xmpp.org/extensions/xep-0059.html (paging item retrieval and disco#items)
 */
import type { ComponentLink, IqRequest } from "../component/index.js";
import type { DiscoService } from "../disco/index.js";
import type { Logger } from "../log/index.js";
import { FEATURE_RESULTS, NS_JABMON, NS_PUBSUB, NS_PUBSUB_OWNER } from "../protocol/index.js";
import type { Keys, Redis } from "../store/index.js";
import type { Element } from "../xmpp/index.js";
import { accessPolicy } from "./authz.js";
import type { NodeConfig } from "./config.js";
import type { PubsubContext, PubsubRequest } from "./context.js";
import { registerDisco } from "./disco.js";
import { pubsubError } from "./errors.js";
import { requester } from "./names.js";
import { notifier } from "./notify.js";
import type { PubsubHooks, PubsubOptions } from "./options.js";
import * as owner from "./owner.js";
import { type Publishing, publishing, retract } from "./publish.js";
import { retrieve } from "./retrieve.js";
import { PubsubStore } from "./store.js";
import * as subscriptions from "./subscriptions.js";

export interface PubsubDeps {
  link: ComponentLink;
  disco: DiscoService;
  redis: Redis;
  keys: Keys;
  log: Logger;
  options: PubsubOptions;
  /**
   * Who counts as an agent (docs/security.md): only an agent's `agents/<jid>`
   * node may exist or take publishes. Default: any user account (local@domain).
   */
  isAgent?: (bareJid: string) => boolean;
}

export interface PubsubService {
  readonly store: PubsubStore;
  /** Add a policy hook (see PubsubHooks). */
  use(hooks: PubsubHooks): void;
  /**
   * Create a node owned by the component unless it exists (in-process, for the
   * component's own nodes such as `alerts`). Resolves true if it was created.
   * Unlike other nodes, these default to `pubsub#send_last_published_item` =
   * `never`: they carry events, not a state.
   */
  ensureNode(node: string, config?: Partial<NodeConfig>): Promise<boolean>;
  /**
   * Publish an item as the component (in-process, no XMPP round trip): stored
   * and notified exactly as an XEP-0060 publish. The same id replaces the item.
   */
  publish(node: string, payload: Element, itemId?: string): Promise<{ id: string; seq: number }>;
  /** Remove aged-out items now (the timer does this every sweepMs). */
  sweep(): Promise<number>;
  stop(): void;
}

type Handler = (req: PubsubRequest, child: Element) => Element | true | Promise<Element | true>;

/**
 * An IQ handler that routes by the name of the request's first child; the
 * request carries its sender as the service keys it.
 */
function byChild(routes: Record<string, Handler>, emptyText?: string) {
  const table = new Map(Object.entries(routes));
  return (iq: IqRequest) => {
    const child = iq.element.getChildElements()[0];
    if (!child) throw pubsubError("JABMON_ERR_BAD_REQUEST", emptyText);
    const route = table.get(child.name);
    if (!route) throw pubsubError("JABMON_ERR_UNSUPPORTED", `<${child.name}/>`, child.name);
    return route({ ...iq, who: requester(iq.from) }, child);
  };
}

function route(ctx: PubsubContext, publishing: Publishing): void {
  const publish = publishing.publish;
  const { router } = ctx.link;
  // An agent's backlog, many results per IQ (docs/protocol.md, "Replaying a backlog").
  router.set(NS_JABMON, "results", (iq) =>
    publishing.publishResults({ ...iq, who: requester(iq.from) }),
  );
  router.set(
    NS_PUBSUB,
    "pubsub",
    byChild(
      {
        publish: (req) => publish(req),
        create: (req) => owner.create(ctx, req),
        subscribe: (req) => subscriptions.subscribe(ctx, req),
        unsubscribe: (req) => subscriptions.unsubscribe(ctx, req),
        options: (req) => subscriptions.setOptions(ctx, req),
        retract: (req) => retract(ctx, req),
      },
      "empty pubsub request",
    ),
  );
  router.get(
    NS_PUBSUB,
    "pubsub",
    byChild(
      {
        items: (req) => retrieve(ctx, req),
        subscriptions: (req, child) => subscriptions.ownSubscriptions(ctx, req, child),
        affiliations: (req, child) => subscriptions.ownAffiliations(ctx, req, child),
        options: (req) => subscriptions.getOptions(ctx, req),
        default: () => subscriptions.defaultOptions(),
      },
      "empty pubsub request",
    ),
  );
  router.get(
    NS_PUBSUB_OWNER,
    "pubsub",
    byChild({
      default: () => owner.defaultConfiguration(ctx),
      configure: (req, child) => owner.getConfiguration(ctx, req, child),
      subscriptions: (req, child) => owner.listSubscriptions(ctx, req, child),
      affiliations: (req, child) => owner.listAffiliations(ctx, req, child),
    }),
  );
  router.set(
    NS_PUBSUB_OWNER,
    "pubsub",
    byChild({
      configure: (req, child) => owner.configure(ctx, req, child),
      delete: (req, child) => owner.deleteNode(ctx, req, child),
      purge: (req, child) => owner.purge(ctx, req, child),
      subscriptions: (req, child) => owner.setSubscriptions(ctx, req, child),
      affiliations: (req, child) => owner.setAffiliations(ctx, req, child),
    }),
  );
  router.onMessage((stanza) => owner.onAuthorizationAnswer(ctx, stanza));
}

export function pubsubService({
  link,
  disco,
  redis,
  keys,
  log,
  options,
  isAgent = (bare) => bare.includes("@"),
}: PubsubDeps): PubsubService {
  const store = new PubsubStore(redis, keys);
  const access = accessPolicy({ options, self: link.jid, isAgent, store });
  const ctx: PubsubContext = {
    link,
    store,
    keys,
    log,
    options,
    limits: options,
    access,
    notifier: notifier({ link, store, log, admins: access.admins }),
    hooks: [],
  };
  const publish = publishing(ctx);
  route(ctx, publish);

  // Nodes made by an older jabmon are not in the plain-node index yet: once.
  const plainNodesIndexed = store.indexPlainNodes().then(
    (added) => {
      if (added > 0) log.info({ added }, "indexed the nodes that are not agent nodes");
    },
    (err: Error) =>
      log.warn({ err: err.message }, "cannot index the nodes that are not agent nodes"),
  );
  registerDisco(ctx, disco, plainNodesIndexed);
  disco.addFeature(FEATURE_RESULTS);

  async function sweep(): Promise<number> {
    let removed = 0;
    for (const node of await store.expiringNodes()) removed += await store.expire(node);
    return removed;
  }
  const timer = setInterval(() => {
    sweep().catch((err) => log.warn({ err: String(err) }, "item expiry sweep failed"));
  }, options.sweepMs ?? 5000);
  timer.unref();

  return {
    store,
    use: (h) => void ctx.hooks.push(h),
    ensureNode: (node, config) => owner.ensureNode(ctx, node, config),
    publish: publish.publishLocal,
    sweep,
    stop: () => {
      clearInterval(timer);
      publish.stop();
    },
  };
}
