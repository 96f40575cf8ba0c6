/**
 * An entity's own subscriptions (XEP-0060 §6.1-§6.4): subscribe, unsubscribe,
 * subscription options (`pubsub#deliver`), and the lists of its own
 * subscriptions and affiliations (§5.6, §5.7). Subscribing to
 * `alertpublishers` means being told of agent nodes appearing and going.
 *
 * https://xmpp.org/extensions/xep-0060.html#subscriber
 */
import { randomUUID } from "node:crypto";
import { NS_PUBSUB } from "../protocol/index.js";
import { bareJid, type Element, el } from "../xmpp/index.js";
import { FORM_SUBSCRIBE_OPTIONS } from "./config.js";
import type { PubsubContext, PubsubRequest } from "./context.js";
import { pubsubError } from "./errors.js";
import { buildForm, NS_DATA, parseBoolean, readForm } from "./forms.js";
import { ALERTPUBLISHERS, FULL_JID, jidKey, only, requireNode } from "./names.js";
import { pagedList } from "./rsm.js";
import type { Subscription } from "./store.js";

const subscriptionElement = (node: string, s: Subscription) =>
  el("subscription", { node, jid: s.jid, subid: s.subid, subscription: s.state });

/** The JID a request names (`jid`), keyed as subscriptions are; invalid-jid if it is none. */
function namedJid(child: Element, text?: string): string {
  const jid = child.attrs.jid as string | undefined;
  if (!jid || !FULL_JID.test(jid)) throw pubsubError("JABMON_ERR_INVALID_JID", text);
  return jidKey(jid);
}

/** `pubsub#deliver` of a subscribe_options form (the only option jabmon has). */
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

/**
 * `alertpublishers` lists the agent nodes; it stores no items. Subscribing
 * to it, as to an XEP-0248 collection, means being told when an agent node
 * appears (an agent's first result) or is deleted, so an alertbot follows a
 * growing fleet without polling disco. Only JIDs that may read every agent
 * node (admins, `pubsub.subscribers`) may listen.
 */
async function listenToAgents(ctx: PubsubContext, jid: string, bare: string): Promise<Element> {
  if (!ctx.access.mayRead(bare, "none")) throw pubsubError("JABMON_ERR_CLOSED_NODE");
  await ctx.store.setAgentListener(jid, true);
  return el(
    "pubsub",
    { xmlns: NS_PUBSUB },
    el("subscription", { node: ALERTPUBLISHERS, jid, subscription: "subscribed" }),
  );
}

async function stopListeningToAgents(
  ctx: PubsubContext,
  req: PubsubRequest,
  child: Element,
): Promise<true> {
  const jid = namedJid(child);
  const { bare } = req.who;
  if (bareJid(jid) !== bare && !ctx.access.privileged(bare))
    throw pubsubError("JABMON_ERR_FORBIDDEN");
  if (!(await ctx.store.setAgentListener(jid, false)))
    throw pubsubError("JABMON_ERR_NOT_SUBSCRIBED");
  return true;
}

export async function subscribe(ctx: PubsubContext, req: PubsubRequest): Promise<Element> {
  const pubsub = req.element;
  const sub = only(pubsub, "subscribe");
  const node = requireNode(sub.attrs.node);
  const { bare } = req.who;
  const jid = namedJid(sub, "subscribe with your own JID");
  if (bareJid(jid) !== bare)
    throw pubsubError("JABMON_ERR_INVALID_JID", "subscribe with your own JID");
  if (node === ALERTPUBLISHERS) return listenToAgents(ctx, jid, bare);
  const deliver = readDeliver(pubsub.getChild("options")?.getChild("x", NS_DATA), true);
  const { record, affiliation } = await ctx.access.loadNode(node, req.who);
  if (affiliation === "outcast" && !ctx.access.privileged(bare))
    throw pubsubError("JABMON_ERR_OUTCAST");
  let state: Subscription["state"];
  if (ctx.access.mayRead(bare, affiliation) || record.accessModel === "open") state = "subscribed";
  else if (record.accessModel === "whitelist") throw pubsubError("JABMON_ERR_CLOSED_NODE");
  else state = "pending";
  const existing = (await ctx.store.subscriptions(node)).find((s) => s.jid === jid);
  const subscription: Subscription = {
    jid,
    // An approved subscription stays approved when re-requested.
    state: existing?.state === "subscribed" ? "subscribed" : state,
    subid: existing?.subid ?? randomUUID(),
    deliver,
  };
  await ctx.store.setSubscription(node, subscription, ctx.access.quotaFor(bare, record));
  await ctx.notifier.sendLastItem(node, record, subscription);
  // Ask the owners once per request that newly waits for them, not on every retry.
  if (subscription.state === "pending" && existing?.state !== "pending")
    await ctx.notifier.requestAuthorization(node, subscription);
  return el("pubsub", { xmlns: NS_PUBSUB }, subscriptionElement(node, subscription));
}

/** The subscription a request names: the requester's own, or any for an owner. */
async function subscriptionOf(ctx: PubsubContext, req: PubsubRequest, child: Element) {
  const node = requireNode(child.attrs.node);
  const jid = namedJid(child);
  const { bare } = req.who;
  const { affiliation } = await ctx.access.loadNode(node, req.who);
  if (bareJid(jid) !== bare && !ctx.access.isOwner(bare, affiliation))
    throw pubsubError("JABMON_ERR_FORBIDDEN");
  const subscription = (await ctx.store.subscriptions(node)).find((s) => s.jid === jid);
  if (!subscription) throw pubsubError("JABMON_ERR_NOT_SUBSCRIBED");
  const subid = child.attrs.subid as string | undefined;
  if (subid !== undefined && subid !== subscription.subid)
    throw pubsubError("JABMON_ERR_INVALID_SUBID");
  return { node, jid, subscription };
}

export async function unsubscribe(ctx: PubsubContext, req: PubsubRequest): Promise<true> {
  const child = only(req.element, "unsubscribe");
  if (child.attrs.node === ALERTPUBLISHERS) return stopListeningToAgents(ctx, req, child);
  const { node, jid } = await subscriptionOf(ctx, req, child);
  await ctx.store.removeSubscription(node, jid);
  return true;
}

export async function getOptions(ctx: PubsubContext, req: PubsubRequest): Promise<Element> {
  const { node, jid, subscription } = await subscriptionOf(ctx, req, only(req.element, "options"));
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

export async function setOptions(ctx: PubsubContext, req: PubsubRequest): Promise<true> {
  const optionsEl = only(req.element, "options");
  const { node, subscription } = await subscriptionOf(ctx, req, optionsEl);
  const x = optionsEl.getChild("x", NS_DATA);
  if (!x) throw pubsubError("JABMON_ERR_INVALID_OPTIONS", "options need a data form");
  await ctx.store.setSubscription(node, {
    ...subscription,
    deliver: readDeliver(x, subscription.deliver),
  });
  return true;
}

/** §6.4: the default subscription options. */
export const defaultOptions = (): Element =>
  el(
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

type Entry = { key: string; element: Element };

/**
 * §5.6 / §5.7: the requester's own subscriptions (all resources) or
 * affiliations as one paged list, of one node if the request names one.
 */
async function ownList<T extends { node: string }>(
  ctx: PubsubContext,
  req: PubsubRequest,
  child: Element,
  list: "subscriptions" | "affiliations",
  rows: Promise<T[]>,
  entry: (row: T) => Entry,
): Promise<Element> {
  const filter = child.attrs.node as string | undefined;
  const entries = (await rows).filter((r) => !filter || r.node === filter).map(entry);
  return pagedList(ctx.options, req, NS_PUBSUB, el(list, { node: filter }), entries);
}

export const ownSubscriptions = (ctx: PubsubContext, req: PubsubRequest, child: Element) =>
  ownList(ctx, req, child, "subscriptions", ctx.store.userSubscriptions(req.who.bare), (s) => ({
    key: `${s.node} ${s.jid}`,
    element: subscriptionElement(s.node, s),
  }));

export const ownAffiliations = (ctx: PubsubContext, req: PubsubRequest, child: Element) =>
  ownList(ctx, req, child, "affiliations", ctx.store.userAffiliations(req.who.bare), (a) => ({
    key: a.node,
    element: el("affiliation", { node: a.node, affiliation: a.affiliation }),
  }));
