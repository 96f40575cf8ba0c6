/**
 * The XEP-0060 pubsub service at the component's own JID: nodes, items,
 * subscriptions, affiliations, event notifications and disco, stored in Redis
 * through store.ts. Agents publish to `agents/<bare JID>`; the node
 * `alertpublishers` lists every agent node by disco#items.
 *
 * https://xmpp.org/extensions/xep-0060.html
 * https://xmpp.org/extensions/xep-0059.html (paging item retrieval and disco#items)
 */
import { randomUUID } from "node:crypto";
import type { ComponentLink, IqRequest } from "../component/index.js";
import type { DiscoItemsPage, DiscoService } from "../disco/index.js";
import type { Logger } from "../log/index.js";
import {
  NS_DELAY,
  NS_JABMON,
  NS_PUBSUB,
  NS_PUBSUB_EVENT,
  NS_PUBSUB_OWNER,
  NS_RSM,
} from "../protocol/index.js";
import type { Keys, Redis } from "../store/index.js";
import { type Element, el, ltx, StanzaError } from "../xmpp/index.js";
import {
  type ConfigLimits,
  configForm,
  configToHash,
  defaultConfig,
  FORM_NODE_CONFIG,
  FORM_PUBLISH_OPTIONS,
  FORM_SUBSCRIBE_AUTHORIZATION,
  FORM_SUBSCRIBE_OPTIONS,
  metadataForm,
  type NodeConfig,
  type NodeRecord,
  parseConfigForm,
} from "./config.js";
import { PubsubError, pubsubError } from "./errors.js";
import { buildForm, NS_DATA, parseBoolean, readForm } from "./forms.js";
import {
  AFFILIATIONS,
  type Affiliation,
  type Page,
  type PageRequest,
  PubsubStore,
  type StoredItem,
  type Subscription,
} from "./store.js";

export { NS_RSM };
/** The node whose disco#items lists every agent node. */
export const ALERTPUBLISHERS = "alertpublishers";
export const AGENT_NODE_PREFIX = "agents/";

export interface PubsubOptions {
  maxPayloadBytes: number;
  maxItemsLimit: number;
  defaultMaxItems: number;
  /** Bare JIDs treated as owners of every node. */
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
}

export interface PubsubDeps {
  link: ComponentLink;
  disco: DiscoService;
  redis: Redis;
  keys: Keys;
  log: Logger;
  options: PubsubOptions;
}

export interface PubsubService {
  readonly store: PubsubStore;
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

const bareOf = (jid: string) => jid.split("/")[0] as string;
const BARE_JID = /^(?:[^@/\s]{1,1023}@)?[^@/\s]{1,1023}$/;
const FULL_JID = /^(?:[^@/\s]{1,1023}@)?[^@/\s]{1,1023}(?:\/[^\s]{1,1023})?$/;
// Printable, no control characters, no leading/trailing space, at most 256 characters.
const NODE_NAME = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,254}[^\s\p{Cc}])?$/u;
const ITEM_ID = /^[^\p{Cc}]{1,256}$/u;
const AGENT_SEQ = /^[1-9]\d{0,15}$/;

export function validateNodeName(node: string): void {
  if (!NODE_NAME.test(node))
    throw pubsubError("JABMON_ERR_INVALID_NODE_NAME", "node names are 1-256 printable characters");
  if (node.startsWith(AGENT_NODE_PREFIX) && !BARE_JID.test(node.slice(AGENT_NODE_PREFIX.length)))
    throw pubsubError("JABMON_ERR_INVALID_NODE_NAME", "agent nodes are agents/<bare JID>");
}

/** The agent's bare JID for an `agents/<bare JID>` node. */
export function agentOwnerOf(node: string): string | undefined {
  return node.startsWith(AGENT_NODE_PREFIX) ? node.slice(AGENT_NODE_PREFIX.length) : undefined;
}

const SUBSCRIBED_AFFS = new Set<Affiliation>(["owner", "publisher", "member"]);

export function pubsubService({
  link,
  disco,
  redis,
  keys,
  log,
  options,
}: PubsubDeps): PubsubService {
  const store = new PubsubStore(redis, keys);
  const admins = new Set(options.admins);
  const readers = new Set(options.subscribers ?? []);
  const limits: ConfigLimits = options;
  let messageCounter = 0;

  /** Admins and the component itself act as owners everywhere. */
  const privileged = (bare: string) => admins.has(bare) || bare === link.jid;
  const isOwner = (bare: string, aff: Affiliation) => aff === "owner" || privileged(bare);
  /** Configured subscribers read every node as a member would. */
  const mayRead = (bare: string, aff: Affiliation) =>
    privileged(bare) || SUBSCRIBED_AFFS.has(aff) || (readers.has(bare) && aff !== "outcast");

  const requireNode = (node: string | undefined): string => {
    if (!node) throw pubsubError("JABMON_ERR_NODEID_REQUIRED", "node attribute required");
    validateNodeName(node);
    return node;
  };

  const only = (parent: Element, name: string): Element => {
    const child = parent.getChild(name);
    if (!child) throw pubsubError("JABMON_ERR_BAD_REQUEST", `expected <${name}/>`);
    return child;
  };

  async function loadNode(node: string, from: string) {
    const bare = bareOf(from);
    const state = await store.nodeFor(node, bare, from);
    if (!state.record) throw pubsubError("JABMON_ERR_NODE_NOT_FOUND", `no node ${node}`);
    return { ...state, record: state.record, bare };
  }

  function checkRead(
    record: NodeRecord,
    bare: string,
    aff: Affiliation,
    sub: Subscription | undefined,
  ) {
    if (privileged(bare)) return;
    if (aff === "outcast") throw pubsubError("JABMON_ERR_OUTCAST");
    if (mayRead(bare, aff)) return;
    if (record.accessModel === "open") return;
    if (record.accessModel === "whitelist") throw pubsubError("JABMON_ERR_CLOSED_NODE");
    if (sub?.state === "subscribed") return;
    if (sub?.state === "pending") throw pubsubError("JABMON_ERR_PENDING_SUBSCRIPTION");
    throw pubsubError("JABMON_ERR_NOT_AUTHORIZED");
  }

  // --- notifications ---------------------------------------------------------

  const eventMessage = (to: string, payload: Element, delay?: Element) =>
    el(
      "message",
      { from: link.jid, to, type: "headline", id: `ps${++messageCounter}` },
      el("event", { xmlns: NS_PUBSUB_EVENT }, payload),
      delay,
    );

  /**
   * The per-node sequence rides on each `<item/>` as the attribute `jabmon:seq`
   * (namespace urn:jabmon:0), in notifications and in retrieved items alike.
   */
  const itemElement = (id: string, seq: number, publisher: string, payload?: Element) =>
    el("item", { id, publisher, "xmlns:jabmon": NS_JABMON, "jabmon:seq": seq }, payload);

  function notify(deliver: string[], build: () => Element) {
    for (const to of deliver) link.send(eventMessage(to, build()));
  }

  /**
   * XEP-0060 §6.1.7: a new subscription gets the node's last item, if the node
   * says so (`on_sub_and_presence` acts as `on_sub`) and the subscription
   * delivers. The item has its jabmon:seq like any notification, and the message
   * a XEP-0203 `<delay/>` with the publish time, so a client tells it from a new
   * publish. Sent on the next turn, after the IQ result the handler returns.
   */
  async function sendLastItem(node: string, record: NodeRecord, subscription: Subscription) {
    if (record.sendLastPublishedItem === "never") return;
    if (subscription.state !== "subscribed" || !subscription.deliver) return;
    const item = await store.lastItem(node);
    if (!item) return;
    if (record.itemExpire > 0 && item.publishedAt < Date.now() - record.itemExpire * 1000) return;
    const message = eventMessage(
      subscription.jid,
      el(
        "items",
        { node },
        itemElement(item.id, item.seq, item.publisher, ltx.parse(item.payload)),
      ),
      el("delay", {
        xmlns: NS_DELAY,
        from: link.jid,
        stamp: new Date(item.publishedAt).toISOString(),
      }),
    );
    setImmediate(() => link.send(message));
  }

  /**
   * §8.8.4 / §8.6: tell an entity its subscription changed (approved, denied,
   * set or removed by an owner): `<event><subscription node jid subscription/></event>`.
   */
  function notifySubscription(
    node: string,
    jid: string,
    state: "none" | Subscription["state"],
    subid?: string,
  ) {
    link.send(
      el(
        "message",
        { from: link.jid, to: jid, id: `ps${++messageCounter}` },
        el(
          "event",
          { xmlns: NS_PUBSUB_EVENT },
          el("subscription", { node, jid, subscription: state, subid }),
        ),
      ),
    );
  }

  /**
   * §8.6: a subscription just became pending, so every owner of the node gets
   * the pubsub#subscribe_authorization form (a normal message: ejabberd keeps it
   * offline for an owner who is away). The component does not ask itself: a node
   * only it owns asks the admins.
   */
  async function requestAuthorization(node: string, subscription: Subscription) {
    const owners = (await store.affiliations(node))
      .filter((a) => a.affiliation === "owner" && a.jid !== link.jid)
      .map((a) => a.jid);
    const form = buildForm(
      "form",
      FORM_SUBSCRIBE_AUTHORIZATION,
      [
        { var: "pubsub#subid", type: "hidden", values: [subscription.subid] },
        { var: "pubsub#node", type: "text-single", label: "Node ID", values: [node] },
        {
          var: "pubsub#subscriber_jid",
          type: "jid-single",
          label: "Subscriber Address",
          values: [subscription.jid],
        },
        {
          var: "pubsub#allow",
          type: "boolean",
          label: "Allow this JID to subscribe to this pubsub node?",
          values: ["false"],
        },
      ],
      {
        title: "PubSub subscriber request",
        instructions:
          "To approve this entity's subscription request, set pubsub#allow to true and submit; to deny it, submit false.",
      },
    );
    for (const to of owners.length > 0 ? owners : [...admins])
      link.send(el("message", { from: link.jid, to, id: `ps${++messageCounter}` }, form));
  }

  // --- publish ---------------------------------------------------------------

  async function publish(req: IqRequest, pubsub: Element): Promise<Element> {
    const publishEl = only(pubsub, "publish");
    const node = requireNode(publishEl.attrs.node);
    const items = publishEl.getChildren("item");
    if (items.length === 0) throw pubsubError("JABMON_ERR_ITEM_REQUIRED");
    if (items.length > 1) throw pubsubError("JABMON_ERR_BAD_REQUEST", "one item per publish");
    const item = items[0] as Element;
    const payloads = item.getChildElements();
    if (payloads.length === 0) throw pubsubError("JABMON_ERR_PAYLOAD_REQUIRED");
    if (payloads.length > 1)
      throw pubsubError("JABMON_ERR_INVALID_PAYLOAD", "one payload element per item");
    const payload = payloads[0] as Element;
    const xml = payload.toString();
    if (Buffer.byteLength(xml) > options.maxPayloadBytes)
      throw pubsubError(
        "JABMON_ERR_PAYLOAD_TOO_BIG",
        `payload over ${options.maxPayloadBytes} bytes`,
      );
    let agentSeq: number | undefined;
    if (payload.attrs.xmlns === NS_JABMON && payload.attrs.seq !== undefined) {
      if (!AGENT_SEQ.test(payload.attrs.seq))
        throw pubsubError("JABMON_ERR_INVALID_PAYLOAD", "seq must be a positive integer");
      agentSeq = Number(payload.attrs.seq);
    }
    const givenId = item.attrs.id as string | undefined;
    if (givenId !== undefined && !ITEM_ID.test(givenId))
      throw pubsubError("JABMON_ERR_INVALID_ITEM_ID", "item ids are 1-256 characters");
    // A replayed result without an id gets the same id again: derived from its seq.
    const itemId = givenId ?? (agentSeq !== undefined ? `s${agentSeq}` : randomUUID());
    const optionsForm = pubsub.getChild("publish-options")?.getChild("x", NS_DATA);
    const preconditions = optionsForm
      ? configToHash(
          parseConfigForm(
            optionsForm,
            limits,
            FORM_PUBLISH_OPTIONS,
            "JABMON_ERR_PRECONDITION_NOT_MET",
          ),
        )
      : [];
    const bare = bareOf(req.from);
    const agentOwner = agentOwnerOf(node);
    const autoCreate = agentOwner !== undefined && agentOwner === bare;
    const reply = await store.publish({
      node,
      publisher: bare,
      publisherFull: req.from,
      itemId,
      payload: xml,
      now: Date.now(),
      agentSeq,
      autoCreate,
      agentOwner,
      admin: privileged(bare),
      preconditions,
      defaults: autoCreate ? configToHash(defaultConfig(limits, true)) : [],
    });
    if (reply === -1 && agentOwner !== undefined)
      throw pubsubError(
        "JABMON_ERR_AUTO_CREATE_FORBIDDEN",
        `only ${agentOwner} may create ${node}`,
      );
    const result = PubsubStore.publishResult(reply, node);
    // Sent in the continuation of the script's reply: replies arrive in the order
    // the scripts ran, so notifications of a node leave in sequence order.
    if (!result.duplicate && result.deliver.length > 0) {
      notify(result.deliver, () =>
        el("items", { node }, itemElement(itemId, result.seq, bare, payload)),
      );
    }
    if (result.created) tellAgentListeners("associate", node);
    return el("pubsub", { xmlns: NS_PUBSUB }, el("publish", { node }, el("item", { id: itemId })));
  }

  // --- retrieval -------------------------------------------------------------

  const parseCount = (
    text: string | undefined,
    what: string,
    limit = options.maxItemsLimit,
  ): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^\d{1,9}$/.test(text.trim()))
      throw pubsubError("JABMON_ERR_INVALID_RSM", `${what} must be an integer`);
    return Math.min(Number(text.trim()), limit);
  };

  async function retrieve(req: IqRequest, pubsub: Element): Promise<Element> {
    const itemsEl = only(pubsub, "items");
    const node = requireNode(itemsEl.attrs.node);
    const { record, bare, affiliation, subscription } = await loadNode(node, req.from);
    checkRead(record, bare, affiliation, subscription);
    const wanted = itemsEl.getChildren("item").map((i) => i.attrs.id as string | undefined);
    let stored: StoredItem[];
    let rsm: Element | undefined;
    if (wanted.length > 0) {
      if (wanted.some((id) => !id)) throw pubsubError("JABMON_ERR_BAD_REQUEST", "item without id");
      stored = await store.itemsByIds(node, wanted as string[]);
      if (stored.length === 0) throw pubsubError("JABMON_ERR_ITEM_NOT_FOUND");
    } else {
      const set = pubsub.getChild("set", NS_RSM);
      const maxItems = parseCount(itemsEl.attrs.max_items, "max_items");
      let ids: string[];
      if (set) {
        const max =
          parseCount(set.getChildText("max") ?? undefined, "max") ?? options.maxItemsLimit;
        const after = set.getChild("after");
        const before = set.getChild("before");
        if (max === 0) ids = [];
        else if (after) {
          const seq = await store.seqOf(node, after.getText());
          if (seq === undefined)
            throw pubsubError(
              "JABMON_ERR_RSM_ITEM_NOT_FOUND",
              "no item with that id to page after",
            );
          ids = await store.idsAfter(node, seq, max);
        } else if (before) {
          const id = before.getText();
          if (id === "") ids = await store.idsByRank(node, -max, -1);
          else {
            const seq = await store.seqOf(node, id);
            if (seq === undefined)
              throw pubsubError(
                "JABMON_ERR_RSM_ITEM_NOT_FOUND",
                "no item with that id to page before",
              );
            ids = await store.idsBefore(node, seq, max);
          }
        } else {
          const index = parseCount(set.getChildText("index") ?? undefined, "index") ?? 0;
          ids = await store.idsByRank(node, index, index + max - 1);
        }
        const count = await store.itemCount(node);
        rsm = el("set", { xmlns: NS_RSM });
        if (ids.length > 0) {
          const first = ids[0] as string;
          rsm.cnode(el("first", { index: await store.rankOf(node, first) }, first));
          rsm.cnode(el("last", {}, ids[ids.length - 1] as string));
        }
        rsm.cnode(el("count", {}, String(count)));
      } else if (maxItems !== undefined) {
        ids = maxItems === 0 ? [] : await store.idsByRank(node, -maxItems, -1);
      } else {
        ids = await store.idsByRank(node, -options.maxItemsLimit, -1);
      }
      stored = await store.itemsByIds(node, ids);
    }
    if (record.itemExpire > 0) {
      const cutoff = Date.now() - record.itemExpire * 1000;
      stored = stored.filter((item) => item.publishedAt >= cutoff);
    }
    const out = el("items", { node });
    for (const item of stored)
      out.cnode(itemElement(item.id, item.seq, item.publisher, ltx.parse(item.payload)));
    return el("pubsub", { xmlns: NS_PUBSUB }, out, rsm);
  }

  // --- nodes -----------------------------------------------------------------

  /**
   * §8.1.1 create, or §8.1.2 an instant node: without a name the service makes
   * one up (a UUID, never an `agents/` name) and returns it in `<create node/>`.
   */
  async function create(req: IqRequest, pubsub: Element): Promise<Element | true> {
    const createEl = only(pubsub, "create");
    const given = createEl.attrs.node as string | undefined;
    const node = given || randomUUID();
    validateNodeName(node);
    if (node === ALERTPUBLISHERS) throw pubsubError("JABMON_ERR_NODE_EXISTS", "reserved node name");
    const bare = bareOf(req.from);
    const agentOwner = agentOwnerOf(node);
    if (agentOwner !== undefined && agentOwner !== bare && !privileged(bare))
      throw pubsubError(
        "JABMON_ERR_AUTO_CREATE_FORBIDDEN",
        `only ${agentOwner} may create ${node}`,
      );
    const x = pubsub.getChild("configure")?.getChild("x", NS_DATA);
    const config = {
      ...defaultConfig(limits, agentOwner !== undefined),
      ...(x ? parseConfigForm(x, limits, FORM_NODE_CONFIG) : {}),
    };
    await store.create(node, agentOwner ?? bare, agentOwner !== undefined, configToHash(config));
    if (agentOwner !== undefined) tellAgentListeners("associate", node);
    return given ? true : el("pubsub", { xmlns: NS_PUBSUB }, el("create", { node }));
  }

  async function ownerNode(req: IqRequest, child: Element) {
    const node = requireNode(child.attrs.node);
    const state = await loadNode(node, req.from);
    if (!isOwner(state.bare, state.affiliation))
      throw pubsubError("JABMON_ERR_NOT_OWNER", "node owners only");
    return { node, ...state };
  }

  async function ownerGet(req: IqRequest): Promise<Element> {
    const child = req.element.getChildElements()[0];
    if (!child) throw pubsubError("JABMON_ERR_BAD_REQUEST");
    switch (child.name) {
      case "default":
        return el(
          "pubsub",
          { xmlns: NS_PUBSUB_OWNER },
          el("default", {}, configForm(defaultConfig(limits, false), limits)),
        );
      case "configure": {
        const { node, record } = await ownerNode(req, child);
        return el(
          "pubsub",
          { xmlns: NS_PUBSUB_OWNER },
          el("configure", { node }, configForm(record, limits)),
        );
      }
      case "subscriptions": {
        const { node } = await ownerNode(req, child);
        const list = el("subscriptions", { node });
        for (const s of await store.subscriptions(node))
          list.cnode(el("subscription", { jid: s.jid, subscription: s.state, subid: s.subid }));
        return el("pubsub", { xmlns: NS_PUBSUB_OWNER }, list);
      }
      case "affiliations": {
        const { node } = await ownerNode(req, child);
        const list = el("affiliations", { node });
        for (const a of await store.affiliations(node))
          list.cnode(el("affiliation", { jid: a.jid, affiliation: a.affiliation }));
        return el("pubsub", { xmlns: NS_PUBSUB_OWNER }, list);
      }
      default:
        throw pubsubError("JABMON_ERR_UNSUPPORTED", `<${child.name}/>`, child.name);
    }
  }

  async function ownerSet(req: IqRequest): Promise<true> {
    const child = req.element.getChildElements()[0];
    if (!child) throw pubsubError("JABMON_ERR_BAD_REQUEST");
    switch (child.name) {
      case "configure": {
        const { node } = await ownerNode(req, child);
        const x = child.getChild("x", NS_DATA);
        if (!x) throw pubsubError("JABMON_ERR_BAD_REQUEST", "configure needs a data form");
        const config = parseConfigForm(x, limits, FORM_NODE_CONFIG);
        await store.configure(node, configToHash(config));
        return true;
      }
      case "delete": {
        const { node } = await ownerNode(req, child);
        const { notify: wanted, deliver } = await store.delete(node);
        if (wanted) notify(deliver, () => el("delete", { node }));
        if (agentOwnerOf(node) !== undefined) tellAgentListeners("disassociate", node);
        return true;
      }
      case "purge": {
        const { node } = await ownerNode(req, child);
        const deliver = await store.purge(node);
        notify(deliver, () => el("purge", { node }));
        return true;
      }
      case "subscriptions": {
        const { node, record } = await ownerNode(req, child);
        // Validate every entry before changing anything.
        const changes = child.getChildren("subscription").map((s) => {
          const jid = s.attrs.jid as string | undefined;
          const state = s.attrs.subscription as string | undefined;
          if (!jid || !FULL_JID.test(jid))
            throw pubsubError("JABMON_ERR_INVALID_JID", `bad jid ${jid ?? ""}`);
          if (state !== "none" && state !== "subscribed" && state !== "pending")
            throw pubsubError("JABMON_ERR_INVALID_SUBSCRIPTION", `bad subscription ${state ?? ""}`);
          return { jid, state: state as "none" | Subscription["state"] };
        });
        const current = new Map((await store.subscriptions(record.node)).map((s) => [s.jid, s]));
        for (const { jid, state } of changes) {
          if (state === "none") {
            if (!current.has(jid)) continue;
            await store.removeSubscription(node, jid);
            notifySubscription(node, jid, "none");
          } else {
            const existing = current.get(jid);
            const subscription: Subscription = {
              jid,
              state,
              subid: existing?.subid ?? randomUUID(),
              deliver: existing?.deliver ?? true,
            };
            await store.setSubscription(node, subscription);
            if (existing?.state === state) continue;
            notifySubscription(node, jid, state, subscription.subid);
            // An approved (or owner-made) subscription is a new one: §6.1.7 applies.
            if (state === "subscribed") await sendLastItem(node, record, subscription);
          }
        }
        return true;
      }
      case "affiliations": {
        const { node } = await ownerNode(req, child);
        const changes = child.getChildren("affiliation").map((a) => {
          const jid = a.attrs.jid as string | undefined;
          const affiliation = a.attrs.affiliation as Affiliation | undefined;
          if (!jid || !BARE_JID.test(jid))
            throw pubsubError("JABMON_ERR_INVALID_JID", `bad jid ${jid ?? ""}`);
          if (!affiliation || !AFFILIATIONS.includes(affiliation))
            throw pubsubError(
              "JABMON_ERR_INVALID_AFFILIATION",
              `bad affiliation ${affiliation ?? ""}`,
            );
          return { jid, affiliation };
        });
        for (const { jid, affiliation } of changes)
          await store.setAffiliation(node, jid, affiliation);
        return true;
      }
      default:
        throw pubsubError("JABMON_ERR_UNSUPPORTED", `<${child.name}/>`, child.name);
    }
  }

  // --- subscriptions ---------------------------------------------------------

  const subscriptionElement = (node: string, s: Subscription) =>
    el("subscription", { node, jid: s.jid, subid: s.subid, subscription: s.state });

  function readDeliver(x: Element | undefined, fallback: boolean): boolean {
    if (!x) return fallback;
    if (x.attrs.xmlns !== NS_DATA) throw pubsubError("JABMON_ERR_INVALID_OPTIONS");
    let deliver = fallback;
    for (const [name, values] of readForm(x)) {
      if (name === "FORM_TYPE") {
        if (values[0] !== FORM_SUBSCRIBE_OPTIONS)
          throw pubsubError("JABMON_ERR_INVALID_OPTIONS", "wrong FORM_TYPE");
      } else if (name === "pubsub#deliver") {
        const b = parseBoolean(values[0]);
        if (b === undefined)
          throw pubsubError("JABMON_ERR_INVALID_OPTIONS", "pubsub#deliver must be a boolean");
        deliver = b;
      } else throw pubsubError("JABMON_ERR_INVALID_OPTIONS", `unsupported option ${name}`);
    }
    return deliver;
  }

  // --- alertpublishers subscriptions ------------------------------------------

  /**
   * `alertpublishers` lists the agent nodes; it stores no items. Subscribing
   * to it, as to an XEP-0248 collection, means being told when an agent node
   * appears (an agent's first result) or is deleted, so an alertbot follows a
   * growing fleet without polling disco. Only JIDs that may read every agent
   * node (admins, `pubsub.subscribers`) may listen.
   */
  async function listenToAgents(jid: string, bare: string): Promise<Element> {
    if (!mayRead(bare, "none")) throw pubsubError("JABMON_ERR_CLOSED_NODE");
    await store.setAgentListener(jid, true);
    return el(
      "pubsub",
      { xmlns: NS_PUBSUB },
      el("subscription", { node: ALERTPUBLISHERS, jid, subscription: "subscribed" }),
    );
  }

  async function stopListeningToAgents(req: IqRequest, child: Element): Promise<true> {
    const jid = child.attrs.jid as string | undefined;
    if (!jid || !FULL_JID.test(jid)) throw pubsubError("JABMON_ERR_INVALID_JID");
    const bare = bareOf(req.from);
    if (bareOf(jid) !== bare && !privileged(bare)) throw pubsubError("JABMON_ERR_FORBIDDEN");
    if (!(await store.setAgentListener(jid, false))) throw pubsubError("JABMON_ERR_NOT_SUBSCRIBED");
    return true;
  }

  /** `<collection node='alertpublishers'><associate|disassociate node/></collection>` to every listener. */
  function tellAgentListeners(change: "associate" | "disassociate", node: string): void {
    store.agentListeners().then(
      (listeners) => {
        for (const to of listeners)
          link.send(
            eventMessage(to, el("collection", { node: ALERTPUBLISHERS }, el(change, { node }))),
          );
      },
      (err: Error) => log.warn({ err: err.message, node }, "cannot tell alertpublishers listeners"),
    );
  }

  async function subscribe(req: IqRequest, pubsub: Element): Promise<Element> {
    const sub = only(pubsub, "subscribe");
    const node = requireNode(sub.attrs.node);
    const jid = sub.attrs.jid as string | undefined;
    const bare = bareOf(req.from);
    if (!jid || !FULL_JID.test(jid) || bareOf(jid) !== bare)
      throw pubsubError("JABMON_ERR_INVALID_JID", "subscribe with your own JID");
    if (node === ALERTPUBLISHERS) return listenToAgents(jid, bare);
    const deliver = readDeliver(pubsub.getChild("options")?.getChild("x", NS_DATA), true);
    const { record, affiliation } = await loadNode(node, req.from);
    if (affiliation === "outcast" && !privileged(bare)) throw pubsubError("JABMON_ERR_OUTCAST");
    let state: Subscription["state"];
    if (mayRead(bare, affiliation) || record.accessModel === "open") state = "subscribed";
    else if (record.accessModel === "whitelist") throw pubsubError("JABMON_ERR_CLOSED_NODE");
    else state = "pending";
    const existing = (await store.subscriptions(node)).find((s) => s.jid === jid);
    const subscription: Subscription = {
      jid,
      // An approved subscription stays approved when re-requested.
      state: existing?.state === "subscribed" ? "subscribed" : state,
      subid: existing?.subid ?? randomUUID(),
      deliver,
    };
    await store.setSubscription(node, subscription);
    await sendLastItem(node, record, subscription);
    // Ask the owners once per request that newly waits for them, not on every retry.
    if (subscription.state === "pending" && existing?.state !== "pending")
      await requestAuthorization(node, subscription);
    return el("pubsub", { xmlns: NS_PUBSUB }, subscriptionElement(node, subscription));
  }

  async function subscriptionOf(req: IqRequest, child: Element) {
    const node = requireNode(child.attrs.node);
    const jid = child.attrs.jid as string | undefined;
    if (!jid || !FULL_JID.test(jid)) throw pubsubError("JABMON_ERR_INVALID_JID");
    const bare = bareOf(req.from);
    const { affiliation } = await loadNode(node, req.from);
    if (bareOf(jid) !== bare && !isOwner(bare, affiliation))
      throw pubsubError("JABMON_ERR_FORBIDDEN");
    const subscription = (await store.subscriptions(node)).find((s) => s.jid === jid);
    if (!subscription) throw pubsubError("JABMON_ERR_NOT_SUBSCRIBED");
    const subid = child.attrs.subid as string | undefined;
    if (subid !== undefined && subid !== subscription.subid)
      throw pubsubError("JABMON_ERR_INVALID_SUBID");
    return { node, jid, subscription };
  }

  async function unsubscribe(req: IqRequest, pubsub: Element): Promise<true> {
    const child = only(pubsub, "unsubscribe");
    if (child.attrs.node === ALERTPUBLISHERS) return stopListeningToAgents(req, child);
    const { node, jid } = await subscriptionOf(req, child);
    await store.removeSubscription(node, jid);
    return true;
  }

  async function getOptions(req: IqRequest, pubsub: Element): Promise<Element> {
    const { node, jid, subscription } = await subscriptionOf(req, only(pubsub, "options"));
    const form = buildForm("form", FORM_SUBSCRIBE_OPTIONS, [
      {
        var: "pubsub#deliver",
        type: "boolean",
        label: "Enable delivery?",
        values: [subscription.deliver ? "1" : "0"],
      },
    ]);
    return el(
      "pubsub",
      { xmlns: NS_PUBSUB },
      el("options", { node, jid, subid: subscription.subid }, form),
    );
  }

  async function setOptions(req: IqRequest, pubsub: Element): Promise<true> {
    const optionsEl = only(pubsub, "options");
    const { node, subscription } = await subscriptionOf(req, optionsEl);
    const x = optionsEl.getChild("x", NS_DATA);
    if (!x) throw pubsubError("JABMON_ERR_INVALID_OPTIONS", "options need a data form");
    await store.setSubscription(node, {
      ...subscription,
      deliver: readDeliver(x, subscription.deliver),
    });
    return true;
  }

  async function ownSubscriptions(req: IqRequest, child: Element): Promise<Element> {
    const filter = child.attrs.node as string | undefined;
    const list = el("subscriptions", { node: filter });
    for (const s of await store.userSubscriptions(bareOf(req.from)))
      if (!filter || s.node === filter) list.cnode(subscriptionElement(s.node, s));
    return el("pubsub", { xmlns: NS_PUBSUB }, list);
  }

  async function ownAffiliations(req: IqRequest, child: Element): Promise<Element> {
    const filter = child.attrs.node as string | undefined;
    const list = el("affiliations", { node: filter });
    for (const a of await store.userAffiliations(bareOf(req.from)))
      if (!filter || a.node === filter)
        list.cnode(el("affiliation", { node: a.node, affiliation: a.affiliation }));
    return el("pubsub", { xmlns: NS_PUBSUB }, list);
  }

  async function retract(req: IqRequest, pubsub: Element): Promise<true> {
    const retractEl = only(pubsub, "retract");
    const node = requireNode(retractEl.attrs.node);
    const items = retractEl.getChildren("item");
    if (items.length === 0 || !items[0]?.attrs.id) throw pubsubError("JABMON_ERR_ITEM_REQUIRED");
    if (items.length > 1) throw pubsubError("JABMON_ERR_BAD_REQUEST", "one item per retract");
    const id = items[0].attrs.id as string;
    const bare = bareOf(req.from);
    const force = parseBoolean(retractEl.attrs.notify);
    const { notify: configured, deliver } = await store.retract(node, id, bare, privileged(bare));
    if (force ?? configured) notify(deliver, () => el("items", { node }, el("retract", { id })));
    return true;
  }

  // --- subscription authorization (§8.6) ---------------------------------------

  /**
   * An owner's answer to the authorization form: `pubsub#allow` true subscribes
   * the pending JID, false removes its request; the subscriber is told either
   * way. A cancelled form leaves the request pending. Only a pending
   * subscription can be decided (another owner may have answered first).
   */
  async function authorize(from: string, x: Element, fields: Map<string, string[]>) {
    if (x.attrs.type === "cancel") return;
    if (x.attrs.type !== "submit")
      throw pubsubError("JABMON_ERR_BAD_REQUEST", "submit or cancel the form");
    const node = requireNode(fields.get("pubsub#node")?.[0]);
    const jid = fields.get("pubsub#subscriber_jid")?.[0];
    if (!jid || !FULL_JID.test(jid)) throw pubsubError("JABMON_ERR_INVALID_JID");
    const allow = parseBoolean(fields.get("pubsub#allow")?.[0]);
    if (allow === undefined)
      throw pubsubError("JABMON_ERR_BAD_REQUEST", "pubsub#allow must be a boolean");
    const { record, bare, affiliation } = await loadNode(node, from);
    if (!isOwner(bare, affiliation)) throw pubsubError("JABMON_ERR_NOT_OWNER", "node owners only");
    const pending = (await store.subscriptions(node)).find((s) => s.jid === jid);
    if (pending?.state !== "pending")
      throw pubsubError("JABMON_ERR_NO_PENDING_SUBSCRIPTION", `no pending subscription of ${jid}`);
    const subid = fields.get("pubsub#subid")?.[0];
    if (subid !== undefined && subid !== pending.subid)
      throw pubsubError("JABMON_ERR_INVALID_SUBID");
    // Decided in one script: of two answers at once, one applies, the other is refused.
    if (!(await store.decideSubscription(node, jid, pending.subid, allow)))
      throw pubsubError("JABMON_ERR_NO_PENDING_SUBSCRIPTION", `no pending subscription of ${jid}`);
    if (!allow) {
      notifySubscription(node, jid, "none");
      return;
    }
    const subscription: Subscription = { ...pending, state: "subscribed" };
    notifySubscription(node, jid, "subscribed", subscription.subid);
    await sendLastItem(node, record, subscription);
  }

  /** A refused form comes back to its sender as a message error (RFC 6120 §8.3). */
  const bounce = (stanza: Element, err: StanzaError) =>
    el(
      "message",
      { from: link.jid, to: stanza.attrs.from, id: stanza.attrs.id, type: "error" },
      ...stanza.getChildElements(),
      err.toElement(),
    );

  link.router.onMessage(async (stanza) => {
    if (stanza.attrs.type === "error" || stanza.attrs.to !== link.jid) return;
    const x = stanza.getChild("x", NS_DATA);
    if (!x) return;
    const fields = readForm(x);
    if (fields.get("FORM_TYPE")?.[0] !== FORM_SUBSCRIBE_AUTHORIZATION) return;
    try {
      await authorize(stanza.attrs.from, x, fields);
    } catch (err) {
      if (!(err instanceof StanzaError)) throw err;
      link.send(bounce(stanza, err));
    }
  });

  // --- routing ---------------------------------------------------------------

  link.router.set(NS_PUBSUB, "pubsub", (req) => {
    const first = req.element.getChildElements()[0];
    switch (first?.name) {
      case "publish":
        return publish(req, req.element);
      case "create":
        return create(req, req.element);
      case "subscribe":
        return subscribe(req, req.element);
      case "unsubscribe":
        return unsubscribe(req, req.element);
      case "options":
        return setOptions(req, req.element);
      case "retract":
        return retract(req, req.element);
      case undefined:
        throw pubsubError("JABMON_ERR_BAD_REQUEST", "empty pubsub request");
      default:
        throw pubsubError("JABMON_ERR_UNSUPPORTED", `<${first?.name}/>`, first?.name);
    }
  });

  link.router.get(NS_PUBSUB, "pubsub", (req) => {
    const first = req.element.getChildElements()[0];
    switch (first?.name) {
      case "items":
        return retrieve(req, req.element);
      case "subscriptions":
        return ownSubscriptions(req, first);
      case "affiliations":
        return ownAffiliations(req, first);
      case "options":
        return getOptions(req, req.element);
      case "default":
        return el(
          "pubsub",
          { xmlns: NS_PUBSUB },
          el(
            "default",
            {},
            buildForm("form", FORM_SUBSCRIBE_OPTIONS, [
              { var: "pubsub#deliver", type: "boolean", values: ["1"] },
            ]),
          ),
        );
      case undefined:
        throw pubsubError("JABMON_ERR_BAD_REQUEST", "empty pubsub request");
      default:
        throw pubsubError("JABMON_ERR_UNSUPPORTED", `<${first?.name}/>`, first?.name);
    }
  });

  link.router.get(NS_PUBSUB_OWNER, "pubsub", ownerGet);
  link.router.set(NS_PUBSUB_OWNER, "pubsub", ownerSet);

  // --- disco -----------------------------------------------------------------

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

  /**
   * The XEP-0059 request in a disco#items `<set/>`: a page of at most `cap`
   * entries (a bigger `<max/>` gets `cap`, as §2.1 lets the responder do).
   */
  function pageRequest(set: Element, cap: number): PageRequest {
    const max = parseCount(set.getChildText("max") ?? undefined, "max", cap) ?? cap;
    const after = set.getChild("after");
    const before = set.getChild("before");
    if (after) {
      const id = after.getText();
      if (id === "") throw pubsubError("JABMON_ERR_INVALID_RSM", "<after/> needs an id");
      return { mode: "after", id, max };
    }
    if (before) {
      const id = before.getText();
      return id === "" ? { mode: "last", max } : { mode: "before", id, max };
    }
    const index = parseCount(set.getChildText("index") ?? undefined, "index", Infinity) ?? 0;
    return { mode: "index", index, max };
  }

  async function discoPage(key: string, request: PageRequest, head?: string): Promise<Page> {
    const page = await store.page(key, request, head);
    if (!page)
      throw pubsubError("JABMON_ERR_RSM_ITEM_NOT_FOUND", "no entry with that id to page from");
    return page;
  }

  /** The answer's `<set/>`: first (with its index) and last only when the page has entries. */
  function rsmSet(page: Page): Element {
    const set = el("set", { xmlns: NS_RSM });
    const first = page.ids[0];
    if (first !== undefined) {
      set.cnode(el("first", { index: page.firstIndex }, first));
      set.cnode(el("last", {}, page.ids[page.ids.length - 1] as string));
    }
    set.cnode(el("count", {}, String(page.count)));
    return set;
  }

  /**
   * The service's node listing: `alertpublishers`, then the nodes oldest first
   * (ties by name). Without `<set/>`, the first `maxDiscoItems` nodes as always,
   * plus an unsolicited `<set/>` when that cut the list, so a client knows to page.
   */
  async function serviceItems(set: Element | undefined): Promise<DiscoItemsPage> {
    const request: PageRequest = set
      ? pageRequest(set, options.maxDiscoItems)
      : { mode: "index", index: 0, max: options.maxDiscoItems + 1 };
    const page = await discoPage(keys.psNodes(), request, ALERTPUBLISHERS);
    const items = page.ids.map((n) =>
      n === ALERTPUBLISHERS
        ? { jid: link.jid, node: n, name: "agents publishing results" }
        : { jid: link.jid, node: n },
    );
    const cut = !set && page.count > page.ids.length;
    return { items, set: set || cut ? rsmSet(page) : undefined };
  }

  /** Every agent node, oldest first (ties by name); with `<set/>` one page of them. */
  async function agentItems(set: Element | undefined): Promise<DiscoItemsPage> {
    const item = (n: string) => ({ jid: link.jid, node: n, name: agentOwnerOf(n) });
    if (!set) return { items: (await store.agentNodes()).map(item) };
    const page = await discoPage(keys.psAgents(), pageRequest(set, options.maxDiscoItems));
    return { items: page.ids.map(item), set: rsmSet(page) };
  }

  disco.addItemsProvider(async (node, from, query) => {
    const set = query.getChild("set", NS_RSM);
    if (node === "") return serviceItems(set);
    if (node === ALERTPUBLISHERS) return agentItems(set);
    if (!NODE_NAME.test(node)) return undefined;
    const state = await store.nodeFor(node, bareOf(from), from);
    if (!state.record) return undefined;
    checkRead(state.record, bareOf(from), state.affiliation, state.subscription);
    const item = (id: string) => ({ jid: link.jid, name: id });
    if (!set) return (await store.itemIds(node)).map(item);
    const page = await discoPage(keys.psItems(node), pageRequest(set, options.maxDiscoItems));
    return { items: page.ids.map(item), set: rsmSet(page) };
  });

  // --- ageing out ------------------------------------------------------------

  async function sweep(): Promise<number> {
    let removed = 0;
    for (const node of await store.expiringNodes()) removed += await store.expire(node);
    return removed;
  }
  const timer = setInterval(() => {
    sweep().catch((err) => log.warn({ err: String(err) }, "item expiry sweep failed"));
  }, options.sweepMs ?? 5000);
  timer.unref();

  async function ensureNode(node: string, config: Partial<NodeConfig> = {}): Promise<boolean> {
    validateNodeName(node);
    if (await store.node(node)) return false;
    try {
      // The component's own nodes carry events (alerts): a new subscriber must
      // not take the last one for a new one.
      const full: NodeConfig = {
        ...defaultConfig(limits, false),
        sendLastPublishedItem: "never",
        ...config,
      };
      await store.create(node, link.jid, false, configToHash(full));
      return true;
    } catch (err) {
      // Another instance created it first.
      if (err instanceof PubsubError && err.code === "JABMON_ERR_NODE_EXISTS") return false;
      throw err;
    }
  }

  async function publishLocal(node: string, payload: Element, givenId?: string) {
    const itemId = givenId ?? randomUUID();
    const reply = await store.publish({
      node,
      publisher: link.jid,
      publisherFull: link.jid,
      itemId,
      payload: payload.toString(),
      now: Date.now(),
      agentSeq: undefined,
      autoCreate: false,
      agentOwner: undefined,
      admin: true,
      preconditions: [],
      defaults: [],
    });
    const result = PubsubStore.publishResult(reply, node);
    if (result.deliver.length > 0)
      notify(result.deliver, () =>
        el("items", { node }, itemElement(itemId, result.seq, link.jid, payload)),
      );
    return { id: itemId, seq: result.seq };
  }

  return {
    store,
    ensureNode,
    publish: publishLocal,
    sweep,
    stop: () => clearInterval(timer),
  };
}
