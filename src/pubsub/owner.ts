/**
 * Owner use cases (XEP-0060 §8): creating nodes (§8.1, and the component's
 * own by ensureNode), configuring (§8.2, §8.3), deleting (§8.4) and purging
 * (§8.5) them, answering subscription requests (§8.6) and managing
 * subscriptions (§8.8) and affiliations (§8.9).
 *
 * https://xmpp.org/extensions/xep-0060.html#owner
 */
import { randomUUID } from "node:crypto";
import { NS_PUBSUB, NS_PUBSUB_OWNER } from "../protocol/index.js";
import { bareJid, type Element, el, StanzaError } from "../xmpp/index.js";
import {
  configForm,
  configToHash,
  defaultConfig,
  FORM_NODE_CONFIG,
  FORM_SUBSCRIBE_AUTHORIZATION,
  type NodeConfig,
  parseConfigForm,
} from "./config.js";
import type { PubsubContext, PubsubRequest } from "./context.js";
import { PubsubError, pubsubError } from "./errors.js";
import { NS_DATA, parseBoolean, readForm } from "./forms.js";
import {
  agentOf,
  BARE_JID,
  FULL_JID,
  jidKey,
  only,
  type Requester,
  requester,
  requireNode,
  validateNodeName,
} from "./names.js";
import { pagedList } from "./rsm.js";
import { AFFILIATIONS, type Affiliation, type Subscription } from "./store.js";

const ownerReply = (...children: Element[]) =>
  el("pubsub", { xmlns: NS_PUBSUB_OWNER }, ...children);

/** The node a request names, for its owners only. */
async function ownedNode(ctx: PubsubContext, req: PubsubRequest, child: Element) {
  const node = requireNode(child.attrs.node);
  return { node, ...(await ctx.access.ownerNode(node, req.who)) };
}

// --- creating nodes ------------------------------------------------------------

/**
 * §8.1.1 create, or §8.1.2 an instant node: without a name the service makes
 * one up (a UUID, never an `agents/` name) and returns it in `<create node/>`.
 */
export async function create(ctx: PubsubContext, req: PubsubRequest): Promise<Element | true> {
  const createEl = only(req.element, "create");
  const given = createEl.attrs.node as string | undefined;
  const node = given || randomUUID();
  validateNodeName(node);
  const { bare } = req.who;
  ctx.access.checkReserved(node, bare);
  for (const h of ctx.hooks) await h.beforeCreate?.(node, bare);
  ctx.access.checkCreate(node, bare);
  const agentOwner = agentOf(node);
  const x = req.element.getChild("configure")?.getChild("x", NS_DATA);
  const config = {
    ...defaultConfig(ctx.limits, agentOwner !== undefined),
    ...(x ? parseConfigForm(x, ctx.limits, FORM_NODE_CONFIG) : {}),
  };
  await ctx.store.create(node, agentOwner ?? bare, agentOwner !== undefined, configToHash(config), {
    maxNodes: ctx.access.privileged(bare) ? 0 : ctx.options.maxNodesPerJid,
  });
  if (agentOwner !== undefined) ctx.notifier.tellAgentListeners("associate", node);
  return given ? true : el("pubsub", { xmlns: NS_PUBSUB }, el("create", { node }));
}

/** PubsubService.ensureNode: the component's own node, created unless it exists. */
export async function ensureNode(
  ctx: PubsubContext,
  node: string,
  config: Partial<NodeConfig> = {},
): Promise<boolean> {
  validateNodeName(node);
  ctx.access.reserve(node);
  const self = ctx.link.jid;
  const existing = await ctx.store.node(node);
  if (existing) {
    if (existing.owner === self) return false;
    // Taken over before its name was reserved (an older jabmon): whoever owns
    // it would read every alert. Its items are not ours: start afresh.
    ctx.log.warn(
      { node, owner: existing.owner },
      "component node owned by another JID: recreating it",
    );
    await ctx.store.delete(node);
  }
  try {
    // The component's own nodes carry events (alerts): a new subscriber must
    // not take the last one for a new one.
    const full: NodeConfig = {
      ...defaultConfig(ctx.limits, false),
      sendLastPublishedItem: "never",
      ...config,
    };
    await ctx.store.create(node, self, false, configToHash(full));
    return true;
  } catch (err) {
    // Another instance created it first.
    if (err instanceof PubsubError && err.code === "JABMON_ERR_NODE_EXISTS") return false;
    throw err;
  }
}

// --- configuration, delete, purge ----------------------------------------------

/** §8.3: the configuration a new node gets. */
export const defaultConfiguration = (ctx: PubsubContext): Element =>
  ownerReply(el("default", {}, configForm(defaultConfig(ctx.limits, false), ctx.limits)));

export async function getConfiguration(
  ctx: PubsubContext,
  req: PubsubRequest,
  child: Element,
): Promise<Element> {
  const { node, record } = await ownedNode(ctx, req, child);
  return ownerReply(el("configure", { node }, configForm(record, ctx.limits)));
}

export async function configure(
  ctx: PubsubContext,
  req: PubsubRequest,
  child: Element,
): Promise<true> {
  const { node } = await ownedNode(ctx, req, child);
  const x = child.getChild("x", NS_DATA);
  if (!x) throw pubsubError("JABMON_ERR_BAD_REQUEST", "configure needs a data form");
  const config = parseConfigForm(x, ctx.limits, FORM_NODE_CONFIG);
  await ctx.store.configure(node, configToHash(config));
  return true;
}

export async function deleteNode(
  ctx: PubsubContext,
  req: PubsubRequest,
  child: Element,
): Promise<true> {
  const { node } = await ownedNode(ctx, req, child);
  const { notify: wanted, deliver } = await ctx.store.delete(node);
  if (wanted) ctx.notifier.notify(deliver, () => el("delete", { node }));
  if (agentOf(node) !== undefined) ctx.notifier.tellAgentListeners("disassociate", node);
  for (const h of ctx.hooks) h.afterDelete?.(node, req.who.bare);
  return true;
}

export async function purge(ctx: PubsubContext, req: PubsubRequest, child: Element): Promise<true> {
  const { node } = await ownedNode(ctx, req, child);
  const deliver = await ctx.store.purge(node);
  ctx.notifier.notify(deliver, () => el("purge", { node }));
  return true;
}

// --- subscriptions and affiliations (§8.8, §8.9) --------------------------------

/** §8.8.1 / §8.9.1: a node's subscriptions or affiliations as one paged list, for its owners. */
async function ownerList<T>(
  ctx: PubsubContext,
  req: PubsubRequest,
  child: Element,
  list: "subscriptions" | "affiliations",
  rows: (node: string) => Promise<T[]>,
  entry: (row: T) => { key: string; element: Element },
): Promise<Element> {
  const { node } = await ownedNode(ctx, req, child);
  const entries = (await rows(node)).map(entry);
  return pagedList(ctx.options, req, NS_PUBSUB_OWNER, el(list, { node }), entries);
}

export const listSubscriptions = (ctx: PubsubContext, req: PubsubRequest, child: Element) =>
  ownerList(
    ctx,
    req,
    child,
    "subscriptions",
    (node) => ctx.store.subscriptions(node),
    (s) => ({
      key: s.jid,
      element: el("subscription", { jid: s.jid, subscription: s.state, subid: s.subid }),
    }),
  );

export const listAffiliations = (ctx: PubsubContext, req: PubsubRequest, child: Element) =>
  ownerList(
    ctx,
    req,
    child,
    "affiliations",
    (node) => ctx.store.affiliations(node),
    (a) => ({ key: a.jid, element: el("affiliation", { jid: a.jid, affiliation: a.affiliation }) }),
  );

type SubscriptionChange = { jid: string; state: "none" | Subscription["state"] };

/** Every `<subscription/>` of a §8.8.2 request, validated before anything changes. */
function subscriptionChanges(child: Element): SubscriptionChange[] {
  return child.getChildren("subscription").map((s) => {
    const jid = s.attrs.jid as string | undefined;
    const state = s.attrs.subscription as string | undefined;
    if (!jid || !FULL_JID.test(jid))
      throw pubsubError("JABMON_ERR_INVALID_JID", `bad jid ${jid ?? ""}`);
    if (state !== "none" && state !== "subscribed" && state !== "pending")
      throw pubsubError("JABMON_ERR_INVALID_SUBSCRIPTION", `bad subscription ${state ?? ""}`);
    return { jid: jidKey(jid), state };
  });
}

export async function setSubscriptions(
  ctx: PubsubContext,
  req: PubsubRequest,
  child: Element,
): Promise<true> {
  const { node, record } = await ownedNode(ctx, req, child);
  const changes = subscriptionChanges(child);
  const current = new Map((await ctx.store.subscriptions(record.node)).map((s) => [s.jid, s]));
  for (const { jid, state } of changes) {
    if (state === "none") {
      if (!current.has(jid)) continue;
      await ctx.store.removeSubscription(node, jid);
      ctx.notifier.notifySubscription(node, jid, "none");
      continue;
    }
    const existing = current.get(jid);
    const subscription: Subscription = {
      jid,
      state,
      subid: existing?.subid ?? randomUUID(),
      deliver: existing?.deliver ?? true,
    };
    await ctx.store.setSubscription(node, subscription, ctx.access.quotaFor(bareJid(jid), record));
    if (existing?.state === state) continue;
    ctx.notifier.notifySubscription(node, jid, state, subscription.subid);
    // An approved (or owner-made) subscription is a new one: §6.1.7 applies.
    if (state === "subscribed") await ctx.notifier.sendLastItem(node, record, subscription);
  }
  return true;
}

export async function setAffiliations(
  ctx: PubsubContext,
  req: PubsubRequest,
  child: Element,
): Promise<true> {
  const { node } = await ownedNode(ctx, req, child);
  const changes = child.getChildren("affiliation").map((a) => {
    const jid = a.attrs.jid as string | undefined;
    const affiliation = a.attrs.affiliation as Affiliation | undefined;
    if (!jid || !BARE_JID.test(jid))
      throw pubsubError("JABMON_ERR_INVALID_JID", `bad jid ${jid ?? ""}`);
    if (!affiliation || !AFFILIATIONS.includes(affiliation))
      throw pubsubError("JABMON_ERR_INVALID_AFFILIATION", `bad affiliation ${affiliation ?? ""}`);
    return { jid: bareJid(jid), affiliation };
  });
  for (const { jid, affiliation } of changes)
    await ctx.store.setAffiliation(node, jid, affiliation);
  return true;
}

// --- subscription authorization (§8.6) -----------------------------------------

/**
 * An owner's answer to the authorization form: `pubsub#allow` true subscribes
 * the pending JID, false removes its request; the subscriber is told either
 * way. A cancelled form leaves the request pending. Only a pending
 * subscription can be decided (another owner may have answered first).
 */
async function authorize(
  ctx: PubsubContext,
  who: Requester,
  x: Element,
  fields: Map<string, string[]>,
) {
  if (x.attrs.type === "cancel") return;
  if (x.attrs.type !== "submit")
    throw pubsubError("JABMON_ERR_BAD_REQUEST", "submit or cancel the form");
  const node = requireNode(fields.get("pubsub#node")?.[0]);
  const given = fields.get("pubsub#subscriber_jid")?.[0];
  if (!given || !FULL_JID.test(given)) throw pubsubError("JABMON_ERR_INVALID_JID");
  const jid = jidKey(given);
  const allow = parseBoolean(fields.get("pubsub#allow")?.[0]);
  if (allow === undefined)
    throw pubsubError("JABMON_ERR_BAD_REQUEST", "pubsub#allow must be a boolean");
  const { record } = await ctx.access.ownerNode(node, who);
  const noPending = () =>
    pubsubError("JABMON_ERR_NO_PENDING_SUBSCRIPTION", `no pending subscription of ${jid}`);
  const pending = (await ctx.store.subscriptions(node)).find((s) => s.jid === jid);
  if (pending?.state !== "pending") throw noPending();
  const subid = fields.get("pubsub#subid")?.[0];
  if (subid !== undefined && subid !== pending.subid) throw pubsubError("JABMON_ERR_INVALID_SUBID");
  // Decided in one script: of two answers at once, one applies, the other is refused.
  if (!(await ctx.store.decideSubscription(node, jid, pending.subid, allow))) throw noPending();
  if (!allow) {
    ctx.notifier.notifySubscription(node, jid, "none");
    return;
  }
  const subscription: Subscription = { ...pending, state: "subscribed" };
  ctx.notifier.notifySubscription(node, jid, "subscribed", subscription.subid);
  await ctx.notifier.sendLastItem(node, record, subscription);
}

/** A refused form comes back to its sender as a message error (RFC 6120 §8.3). */
const bounce = (ctx: PubsubContext, stanza: Element, err: StanzaError) =>
  el(
    "message",
    { from: ctx.link.jid, to: stanza.attrs.from, id: stanza.attrs.id, type: "error" },
    ...stanza.getChildElements(),
    err.toElement(),
  );

/** A message to the service: an owner's answer to an authorization request, or ignored. */
export async function onAuthorizationAnswer(ctx: PubsubContext, stanza: Element): Promise<void> {
  if (stanza.attrs.type === "error" || stanza.attrs.to !== ctx.link.jid) return;
  const x = stanza.getChild("x", NS_DATA);
  if (!x) return;
  const fields = readForm(x);
  if (fields.get("FORM_TYPE")?.[0] !== FORM_SUBSCRIBE_AUTHORIZATION) return;
  try {
    await authorize(ctx, requester(stanza.attrs.from), x, fields);
  } catch (err) {
    if (!(err instanceof StanzaError)) throw err;
    ctx.link.send(bounce(ctx, stanza, err));
  }
}
