/**
 * Publishing items (XEP-0060 §7.1) and retracting them (§7.2). A client's
 * publish IQ and the component's own in-process publish (the `alerts` node,
 * the modules index) take one store-then-notify path.
 *
 * https://xmpp.org/extensions/xep-0060.html#publisher-publish
 * https://xmpp.org/extensions/xep-0060.html#publisher-delete
 */
import { randomUUID } from "node:crypto";
import { NS_JABMON, NS_PUBSUB, parseResult } from "../protocol/index.js";
import { RedisUnavailableError } from "../store/index.js";
import { type Element, el, StanzaError } from "../xmpp/index.js";
import { type IngestAdmission, ingestAdmission } from "./admission.js";
import { configToHash, defaultConfig, FORM_PUBLISH_OPTIONS, parseConfigForm } from "./config.js";
import type { PubsubContext, PubsubRequest } from "./context.js";
import { PubsubError, pubsubError, storeUnavailable } from "./errors.js";
import { NS_DATA, parseBoolean } from "./forms.js";
import { agentOf, ITEM_ID, only, requireNode } from "./names.js";
import { itemElement } from "./notify.js";
import { type PublishRequest, type PublishResult, PubsubStore } from "./store.js";

const AGENT_SEQ = /^[1-9]\d{0,15}$/;
/** Exact in Redis scores and Lua numbers (doubles). */
const MAX_AGENT_SEQ = Number.MAX_SAFE_INTEGER;

/** One item to store: the script's request, with the payload as an element too (to notify). */
type Publication = Omit<PublishRequest, "payload" | "now" | "defaults" | "quota"> & {
  payload: Element;
  /** The payload serialised (as stored). */
  xml: string;
};

/**
 * Store one item (auto-creating an agent's node) and notify the node's
 * delivering subscribers, and the alertpublishers listeners of a node the
 * publish created.
 */
async function storeAndNotify(ctx: PubsubContext, p: Publication): Promise<PublishResult> {
  const { node, itemId, publisher, payload } = p;
  const reply = await ctx.store.publish({
    ...p,
    payload: p.xml,
    now: Date.now(),
    defaults: p.autoCreate ? configToHash(defaultConfig(ctx.limits, true)) : [],
    quota: ctx.access.ownerQuota,
  });
  if (reply === -1 && p.agentOwner !== undefined)
    throw pubsubError(
      "JABMON_ERR_AUTO_CREATE_FORBIDDEN",
      `only ${p.agentOwner} may create ${node}`,
    );
  const result = PubsubStore.publishResult(reply, node);
  // Sent in the continuation of the script's reply: replies arrive in the order
  // the scripts ran, so notifications of a node leave in sequence order.
  if (!result.duplicate && result.deliver.length > 0)
    ctx.notifier.notify(result.deliver, () =>
      el("items", { node }, itemElement(itemId, result.seq, publisher, payload)),
    );
  if (result.created) ctx.notifier.tellAgentListeners("associate", node);
  return result;
}

/** The one payload of a publish's one item, within maxPayloadBytes. */
function readPayload(ctx: PubsubContext, item: Element): { payload: Element; xml: string } {
  const payloads = item.getChildElements();
  if (payloads.length === 0) throw pubsubError("JABMON_ERR_PAYLOAD_REQUIRED");
  if (payloads.length > 1)
    throw pubsubError("JABMON_ERR_INVALID_PAYLOAD", "one payload element per item");
  const payload = payloads[0] as Element;
  const xml = payload.toString();
  const max = ctx.options.maxPayloadBytes;
  if (Buffer.byteLength(xml) > max)
    throw pubsubError("JABMON_ERR_PAYLOAD_TOO_BIG", `payload over ${max} bytes`);
  return { payload, xml };
}

/** The agent's `seq` of a jabmon payload, if it has one. */
function agentSeqOf(payload: Element): number | undefined {
  if (payload.attrs.xmlns !== NS_JABMON || payload.attrs.seq === undefined) return undefined;
  if (!AGENT_SEQ.test(payload.attrs.seq) || Number(payload.attrs.seq) > MAX_AGENT_SEQ)
    throw pubsubError(
      "JABMON_ERR_INVALID_PAYLOAD",
      `seq must be an integer from 1 to ${MAX_AGENT_SEQ}`,
    );
  return Number(payload.attrs.seq);
}

/** What a publish IQ asks to store, checked: node, item id, payload, preconditions. */
function readPublish(ctx: PubsubContext, pubsub: Element) {
  const publishEl = only(pubsub, "publish");
  const node = requireNode(publishEl.attrs.node);
  const items = publishEl.getChildren("item");
  if (items.length === 0) throw pubsubError("JABMON_ERR_ITEM_REQUIRED");
  if (items.length > 1) throw pubsubError("JABMON_ERR_BAD_REQUEST", "one item per publish");
  const item = items[0] as Element;
  const { payload, xml } = readPayload(ctx, item);
  const agentSeq = agentSeqOf(payload);
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
          ctx.limits,
          FORM_PUBLISH_OPTIONS,
          "JABMON_ERR_PRECONDITION_NOT_MET",
        ),
      )
    : [];
  return { node, itemId, payload, xml, agentSeq, preconditions };
}

/** What one publish asks to store, checked (readPublish, readBatchedResult). */
type CheckedPublish = ReturnType<typeof readPublish>;

async function publishIq(
  ctx: PubsubContext,
  req: PubsubRequest,
  admission: IngestAdmission,
): Promise<Element> {
  const { node, itemId } = await publishChecked(
    ctx,
    req.who,
    readPublish(ctx, req.element),
    admission,
  );
  return el("pubsub", { xmlns: NS_PUBSUB }, el("publish", { node }, el("item", { id: itemId })));
}

/** Store one checked publish as its requester, with every check a publish IQ gets. */
async function publishChecked(
  ctx: PubsubContext,
  who: PubsubRequest["who"],
  checked: CheckedPublish,
  admission: IngestAdmission,
): Promise<CheckedPublish> {
  const { node, itemId, payload, xml, agentSeq, preconditions } = checked;
  const { bare } = who;
  for (const h of ctx.hooks) await h.beforePublish?.(node, bare, itemId, payload);
  const agentOwner = agentOf(node);
  // Nothing reaches the monitor for a JID that is not an agent.
  ctx.access.checkAgent(agentOwner);
  // An agent node carries results: one the monitor cannot read would be
  // acknowledged and then dropped at ingest (found by the fuzzer).
  if (agentOwner !== undefined) {
    const parsed = parseResult(xml, Date.now());
    if ("error" in parsed)
      throw pubsubError(
        "JABMON_ERR_INVALID_PAYLOAD",
        `not a result: ${parsed.error.slice(0, 200)}`,
      );
  }
  // Back-pressure: while Redis is away nothing can be stored, so nothing is
  // acknowledged; the wait-type error keeps the result in the agent's spool
  // for its next retry, and nothing queues up here (docs/security.md).
  if (ctx.store.redis.status !== "ready") throw storeUnavailable();
  if (agentOwner !== undefined) admission.admitResult();
  const result = await storeAndNotify(ctx, {
    node,
    publisher: bare,
    publisherFull: who.jid,
    itemId,
    payload,
    xml,
    agentSeq,
    autoCreate: agentOwner !== undefined && agentOwner === bare,
    agentOwner,
    admin: ctx.access.privileged(bare),
    preconditions,
  });
  if (!result.duplicate) for (const h of ctx.hooks) h.afterPublish?.(node, bare, itemId, payload);
  return checked;
}

/** Most results one `<results/>` request may carry (docs/protocol.md, "Replaying a backlog"). */
export const MAX_RESULTS_PER_REQUEST = 100;

/** One result of a `<results/>` request, checked as the payload of a publish to `node`. */
function readBatchedResult(ctx: PubsubContext, node: string, payload: Element): CheckedPublish {
  // In <results xmlns="urn:jabmon:0"> a payload is in that namespace without
  // saying so (ejabberd drops the redundant declaration); stored, it says so.
  payload.attrs.xmlns ??= NS_JABMON;
  const xml = payload.toString();
  const max = ctx.options.maxPayloadBytes;
  if (Buffer.byteLength(xml) > max)
    throw pubsubError("JABMON_ERR_PAYLOAD_TOO_BIG", `payload over ${max} bytes`);
  const agentSeq = agentSeqOf(payload);
  if (agentSeq === undefined)
    throw pubsubError("JABMON_ERR_INVALID_PAYLOAD", "a batched result needs its seq");
  return { node, itemId: `s${agentSeq}`, payload, xml, agentSeq, preconditions: [] };
}

/**
 * What a publish (or one result of a `<results/>` request) to `node` that
 * failed with `err` is answered with, said to the operator where it must be:
 * an agent out of quota keeps retrying, and an unexpected failure is a bug.
 * A StanzaError passes as it is; the bounded Redis queue's refusal is the
 * wait-type store-unavailable answer.
 */
function refusalOf(
  ctx: PubsubContext,
  req: PubsubRequest,
  node: string | undefined,
  err: unknown,
): StanzaError {
  if (err instanceof PubsubError && err.code === "JABMON_ERR_QUOTA_EXCEEDED")
    ctx.log.warn(
      { from: req.who.bare, node, err: err.text },
      "publish refused: owner quota used up",
    );
  if (err instanceof RedisUnavailableError) return storeUnavailable();
  if (err instanceof StanzaError) return err;
  ctx.log.error({ err, from: req.who.bare, node }, "publish failed");
  return new StanzaError("internal-server-error");
}

/**
 * `<results xmlns="urn:jabmon:0" node="agents/…">`: an agent's backlog, many
 * results in one IQ. Each result is published to the node exactly as its own
 * publish IQ would be (same checks, same store script, same notifications),
 * one after the other in the order given, and gets its own outcome in the
 * reply, in the same order: `<stored seq=…/>` or `<refused seq=…>` with the
 * `<error/>` its publish would have been answered with. A refusal does not
 * stop the others, exactly as independent publishes would not.
 */
async function publishResults(
  ctx: PubsubContext,
  req: PubsubRequest,
  admission: IngestAdmission,
): Promise<Element> {
  const node = requireNode(req.element.attrs.node);
  if (agentOf(node) === undefined)
    throw pubsubError("JABMON_ERR_BAD_REQUEST", "results go to an agent node");
  const payloads = req.element.getChildElements();
  if (payloads.length === 0) throw pubsubError("JABMON_ERR_PAYLOAD_REQUIRED");
  if (payloads.length > MAX_RESULTS_PER_REQUEST)
    throw pubsubError(
      "JABMON_ERR_BAD_REQUEST",
      `at most ${MAX_RESULTS_PER_REQUEST} results per request`,
    );
  const reply = el("results", { xmlns: NS_JABMON, node });
  for (const payload of payloads) {
    const seq = payload.attrs.seq as string | undefined;
    try {
      await publishChecked(ctx, req.who, readBatchedResult(ctx, node, payload), admission);
      reply.cnode(el("stored", { seq }));
    } catch (err) {
      reply.cnode(el("refused", { seq }, refusalOf(ctx, req, node, err).toElement()));
    }
  }
  return reply;
}

export interface Publishing {
  /** A publish IQ; back-pressure: a bounded number in flight, the others told to wait. */
  publish(req: PubsubRequest): Promise<Element>;
  /** A `<results/>` request: one slot of the same bound (its results are stored one at a time). */
  publishResults(req: PubsubRequest): Promise<Element>;
  stop(): void;
  /** The component's own publish (PubsubService.publish): stored and notified as a publish IQ. */
  publishLocal(
    node: string,
    payload: Element,
    itemId?: string,
  ): Promise<{ id: string; seq: number }>;
}

export function publishing(ctx: PubsubContext): Publishing {
  let inFlight = 0;
  const maxInFlight = ctx.options.maxPublishesInFlight ?? 2000;
  const self = ctx.link.jid;
  const admission = ingestAdmission({
    redis: ctx.store.redis,
    keys: ctx.keys,
    log: ctx.log,
    maxBacklog: ctx.options.maxIngestBacklog ?? 0,
  });
  async function bounded(req: PubsubRequest, run: typeof publishIq): Promise<Element> {
    if (inFlight >= maxInFlight)
      throw new StanzaError("resource-constraint", {
        text: "too many publishes in flight: retry later",
      });
    inFlight += 1;
    try {
      return await run(ctx, req, admission);
    } catch (err) {
      // Other errors reach the router as they are: it answers and logs them.
      if (err instanceof StanzaError || err instanceof RedisUnavailableError)
        throw refusalOf(ctx, req, req.element.getChild("publish")?.attrs.node, err);
      throw err;
    } finally {
      inFlight -= 1;
    }
  }
  return {
    stop: () => admission.stop(),
    publish: (req) => bounded(req, publishIq),
    publishResults: (req) => bounded(req, publishResults),
    async publishLocal(node, payload, givenId) {
      const itemId = givenId ?? randomUUID();
      const { seq } = await storeAndNotify(ctx, {
        node,
        publisher: self,
        publisherFull: self,
        itemId,
        payload,
        xml: payload.toString(),
        agentSeq: undefined,
        autoCreate: false,
        agentOwner: undefined,
        admin: true,
        preconditions: [],
      });
      return { id: itemId, seq };
    },
  };
}

/** §7.2: `notify` on the request overrides the node's pubsub#notify_retract. */
export async function retract(ctx: PubsubContext, req: PubsubRequest): Promise<true> {
  const retractEl = only(req.element, "retract");
  const node = requireNode(retractEl.attrs.node);
  const items = retractEl.getChildren("item");
  if (items.length === 0 || !items[0]?.attrs.id) throw pubsubError("JABMON_ERR_ITEM_REQUIRED");
  if (items.length > 1) throw pubsubError("JABMON_ERR_BAD_REQUEST", "one item per retract");
  const id = items[0].attrs.id as string;
  const { bare } = req.who;
  const force = parseBoolean(retractEl.attrs.notify);
  const { notify: configured, deliver } = await ctx.store.retract(
    node,
    id,
    bare,
    ctx.access.privileged(bare),
  );
  if (force ?? configured)
    ctx.notifier.notify(deliver, () => el("items", { node }, el("retract", { id })));
  return true;
}
