/**
 * The pubsub service's Redis state, read directly and changed only through
 * the Lua scripts of scripts.ts (files in lua/). Redis is the truth: nothing
 * here caches.
 */
import type { Keys, Redis } from "../store/index.js";
import { defineScripts, ingestShard } from "../store/index.js";
import { bareJid } from "../xmpp/index.js";
import { type NodeRecord, recordFromHash } from "./config.js";
import { scriptError, seqRegressedError } from "./errors.js";
import {
  CONFIGURE_NODE,
  CREATE_NODE,
  DECIDE_SUBSCRIPTION,
  DELETE_NODE,
  EXPIRE_ITEMS,
  INDEX_PLAIN_NODES,
  PAGE_IDS,
  PUBLISH_ITEM,
  PURGE_NODE,
  READ_ITEMS,
  REMOVE_SUBSCRIPTION,
  RETRACT_ITEM,
  SET_AFFILIATION,
  SET_SUBSCRIPTION,
} from "./scripts.js";

type Reply = number | Array<number | string>;
type Script = (...args: string[]) => Promise<Reply>;
type ScriptedRedis = Redis & {
  psPublishItem: Script;
  psCreateNode: Script;
  psConfigureNode: Script;
  psDeleteNode: Script;
  psPurgeNode: Script;
  psRetractItem: Script;
  psSetSubscription: Script;
  psDecideSubscription: Script;
  psRemoveSubscription: Script;
  psSetAffiliation: Script;
  psExpireItems: Script;
  psPageIds: Script;
  psReadItems: Script;
  psIndexPlainNodes: Script;
};

const SCRIPTS = {
  psPublishItem: PUBLISH_ITEM,
  psCreateNode: CREATE_NODE,
  psConfigureNode: CONFIGURE_NODE,
  psDeleteNode: DELETE_NODE,
  psPurgeNode: PURGE_NODE,
  psRetractItem: RETRACT_ITEM,
  psSetSubscription: SET_SUBSCRIPTION,
  psDecideSubscription: DECIDE_SUBSCRIPTION,
  psRemoveSubscription: REMOVE_SUBSCRIPTION,
  psSetAffiliation: SET_AFFILIATION,
  psExpireItems: EXPIRE_ITEMS,
  psPageIds: PAGE_IDS,
  psReadItems: READ_ITEMS,
  psIndexPlainNodes: INDEX_PLAIN_NODES,
};

export type Affiliation = "owner" | "publisher" | "member" | "outcast" | "none";
export const AFFILIATIONS: Affiliation[] = ["owner", "publisher", "member", "outcast", "none"];

export interface Subscription {
  jid: string;
  state: "subscribed" | "pending";
  subid: string;
  deliver: boolean;
}

export interface StoredItem {
  id: string;
  seq: number;
  publishedAt: number;
  publisher: string;
  payload: string;
}

export interface PublishRequest {
  node: string;
  publisher: string;
  publisherFull: string;
  itemId: string;
  payload: string;
  now: number;
  agentSeq: number | undefined;
  autoCreate: boolean;
  /** Owner bare JID of an `agents/<jid>` node; its items also go to the ingest stream. */
  agentOwner: string | undefined;
  admin: boolean;
  /** Hash field/value pairs the node's configuration must have. */
  preconditions: string[];
  /** Hash field/value pairs of the configuration an auto-created node gets. */
  defaults: string[];
  /** What the node's owner may store over all its nodes. */
  quota: OwnerQuota;
}

/**
 * The per-owner quota on stored items (see PUBLISH_ITEM): what the items of all
 * nodes a bare JID owns may add up to (0: no limit), and the owners without one.
 */
export interface OwnerQuota {
  readonly maxItems: number;
  readonly maxBytes: number;
  /** The owners without a quota (admins, the component) as the script reads them: each between newlines. */
  readonly exempt: string;
}

/** Built once, at setup: `exempt` are lower-cased bare JIDs. */
export function ownerQuota(
  maxItems: number,
  maxBytes: number,
  exempt: Iterable<string>,
): OwnerQuota {
  const jids = [...exempt];
  return { maxItems, maxBytes, exempt: jids.length === 0 ? "" : `\n${jids.join("\n")}\n` };
}

/** What a bare JID's items cost (includes/usage.lua). */
export interface Usage {
  items: number;
  bytes: number;
}

/** Which XEP-0059 page: after/before an id, the last page, or from an index. */
export type PageRequest =
  | { mode: "after" | "before"; id: string; max: number }
  | { mode: "last"; max: number }
  | { mode: "index"; index: number; max: number };

export interface Page {
  ids: string[];
  /** Index of ids[0] in the whole list. */
  firstIndex: number;
  count: number;
}

/** Which items one retrieval reads (see READ_ITEMS): a window of the node's list, or ids. */
export type ItemsRequest =
  | { mode: "index"; index: number; max: number }
  | { mode: "after" | "before"; id: string; max: number }
  | { mode: "last" | "recent"; max: number }
  | { mode: "ids"; ids: string[] };

export interface ItemsPage {
  items: StoredItem[];
  /** Items stored on the node (aged-out ones not yet swept included). */
  count: number;
  /** Rank of items[0] in the node's list. */
  firstRank: number;
  /** "fit": the whole window; "cut": the budget cut it; "too-big": its first item alone is over the budget. */
  status: "fit" | "cut" | "too-big";
}

/** Subscription quotas (0: no limit); checked only when a subscription is new. */
export interface SubscriptionQuota {
  perNode: number;
  perJid: number;
}

export interface PublishResult {
  seq: number;
  duplicate: boolean;
  /** The publish created the node (an agent's first result). */
  created: boolean;
  deliver: string[];
}

function check(reply: Reply, node: string): Array<number | string> {
  if (typeof reply === "number") {
    if (reply < 0) throw scriptError(reply, node);
    return [reply];
  }
  return reply;
}

function parseRecord(id: string, rec: string): StoredItem {
  const a = rec.indexOf(" ");
  const b = rec.indexOf(" ", a + 1);
  const c = rec.indexOf(" ", b + 1);
  return {
    id,
    seq: Number(rec.slice(0, a)),
    publishedAt: Number(rec.slice(a + 1, b)),
    publisher: rec.slice(b + 1, c),
    payload: rec.slice(c + 1),
  };
}

function parseSubscription(jid: string, value: string): Subscription {
  const [state, subid, deliver] = value.split(" ");
  return {
    jid,
    state: state === "pending" ? "pending" : "subscribed",
    subid: subid ?? "",
    deliver: deliver !== "0",
  };
}

export class PubsubStore {
  readonly #redis: ScriptedRedis;
  readonly keys: Keys;

  constructor(redis: Redis, keys: Keys) {
    this.#redis = defineScripts<ScriptedRedis>(redis, SCRIPTS);
    this.keys = keys;
  }

  get redis(): Redis {
    return this.#redis;
  }

  async node(node: string): Promise<NodeRecord | undefined> {
    return recordFromHash(node, await this.#redis.hgetall(this.keys.psNode(node)));
  }

  /** The node and the requester's affiliation and subscription, in one round trip. */
  async nodeFor(
    node: string,
    bare: string,
    jid: string,
  ): Promise<{
    record: NodeRecord | undefined;
    affiliation: Affiliation;
    subscription: Subscription | undefined;
  }> {
    const k = this.keys;
    const results =
      (await this.#redis
        .multi()
        .hgetall(k.psNode(node))
        .hget(k.psAffiliations(node), bare)
        .hget(k.psSubscriptions(node), jid)
        .hget(k.psSubscriptions(node), bare)
        .exec()) ?? [];
    const hash = (results[0]?.[1] ?? {}) as Record<string, string>;
    const aff = (results[1]?.[1] as string | null) ?? "none";
    const subFull = results[2]?.[1] as string | null;
    const subBare = results[3]?.[1] as string | null;
    const subscription = subFull
      ? parseSubscription(jid, subFull)
      : subBare
        ? parseSubscription(bare, subBare)
        : undefined;
    return { record: recordFromHash(node, hash), affiliation: aff as Affiliation, subscription };
  }

  /** Store one item (and auto-create the node) in one script; see PUBLISH_ITEM. */
  publish(r: PublishRequest): Promise<Reply> {
    const k = this.keys;
    const shard = r.agentOwner ? ingestShard(r.agentOwner) : 0;
    return this.#redis.psPublishItem(
      k.psNode(r.node),
      k.psItems(r.node),
      k.psItemData(r.node),
      k.psAffiliations(r.node),
      k.psSubscriptions(r.node),
      k.psDeliver(r.node),
      k.ingest(shard),
      k.psNodes(),
      k.psAgents(),
      r.node,
      r.publisher,
      r.publisherFull,
      r.itemId,
      r.payload,
      String(r.now),
      r.agentSeq === undefined ? "" : String(r.agentSeq),
      r.autoCreate ? "1" : "0",
      r.agentOwner ? "1" : "0",
      r.agentOwner ?? r.publisher,
      r.admin ? "1" : "0",
      k.prefix,
      String(r.quota.maxItems),
      String(r.quota.maxBytes),
      r.quota.exempt,
      String(r.preconditions.length / 2),
      ...r.preconditions,
      ...(r.autoCreate ? r.defaults : []),
    );
  }

  static publishResult(reply: Reply, node: string): PublishResult {
    const out = check(reply, node);
    if (Number(out[1]) === 3) throw seqRegressedError(String(out[2]));
    return {
      seq: Number(out[0]),
      duplicate: Number(out[1]) === 1,
      created: Number(out[1]) === 2,
      deliver: out.slice(2) as string[],
    };
  }

  /** `maxNodes`: most nodes `owner` may have created (0: no limit; agent nodes are not counted). */
  async create(
    node: string,
    owner: string,
    agentNode: boolean,
    config: string[],
    { now = Date.now(), maxNodes = 0 }: { now?: number; maxNodes?: number } = {},
  ) {
    const k = this.keys;
    check(
      await this.#redis.psCreateNode(
        k.psNode(node),
        k.psAffiliations(node),
        k.psNodes(),
        k.psAgents(),
        k.psExpiring(),
        node,
        owner,
        String(now),
        agentNode ? "1" : "0",
        k.prefix,
        String(maxNodes),
        ...config,
      ),
      node,
    );
  }

  async configure(node: string, config: string[]): Promise<void> {
    const k = this.keys;
    check(
      await this.#redis.psConfigureNode(
        k.psNode(node),
        k.psItems(node),
        k.psItemData(node),
        k.psExpiring(),
        node,
        k.prefix,
        ...config,
      ),
      node,
    );
  }

  /** Returns whether to notify, and whom. */
  async delete(node: string): Promise<{ notify: boolean; deliver: string[] }> {
    const k = this.keys;
    const out = check(
      await this.#redis.psDeleteNode(
        k.psNode(node),
        k.psItems(node),
        k.psItemData(node),
        k.psAffiliations(node),
        k.psSubscriptions(node),
        k.psDeliver(node),
        k.psNodes(),
        k.psAgents(),
        k.psExpiring(),
        node,
        k.prefix,
      ),
      node,
    );
    return { notify: String(out[0]) !== "0", deliver: out.slice(1) as string[] };
  }

  async purge(node: string): Promise<string[]> {
    const k = this.keys;
    const out = check(
      await this.#redis.psPurgeNode(
        k.psNode(node),
        k.psItems(node),
        k.psItemData(node),
        k.psDeliver(node),
        k.prefix,
      ),
      node,
    );
    return out.slice(1) as string[];
  }

  async retract(node: string, itemId: string, requester: string, admin: boolean) {
    const k = this.keys;
    const out = check(
      await this.#redis.psRetractItem(
        k.psNode(node),
        k.psItems(node),
        k.psItemData(node),
        k.psAffiliations(node),
        k.psDeliver(node),
        itemId,
        requester,
        admin ? "1" : "0",
        k.prefix,
      ),
      node,
    );
    return { notify: String(out[0]) !== "0", deliver: out.slice(1) as string[] };
  }

  async setSubscription(
    node: string,
    sub: Subscription,
    quota: SubscriptionQuota = { perNode: 0, perJid: 0 },
  ): Promise<void> {
    const k = this.keys;
    const bare = bareJid(sub.jid);
    check(
      await this.#redis.psSetSubscription(
        k.psNode(node),
        k.psSubscriptions(node),
        k.psDeliver(node),
        k.psUserSubs(bare),
        sub.jid,
        sub.state,
        sub.subid,
        sub.deliver ? "1" : "0",
        node,
        String(quota.perNode),
        String(quota.perJid),
      ),
      node,
    );
  }

  /**
   * Subscribe (allow) or remove (deny) a pending subscription, atomically:
   * false if it was no longer pending with that subid (already decided).
   */
  async decideSubscription(
    node: string,
    jid: string,
    subid: string,
    allow: boolean,
  ): Promise<boolean> {
    const k = this.keys;
    const bare = bareJid(jid);
    const reply = await this.#redis.psDecideSubscription(
      k.psNode(node),
      k.psSubscriptions(node),
      k.psDeliver(node),
      k.psUserSubs(bare),
      jid,
      subid,
      allow ? "1" : "0",
      node,
    );
    return Number(check(reply, node)) === 1;
  }

  /** JIDs subscribed to `alertpublishers`. */
  agentListeners(): Promise<string[]> {
    return this.#redis.smembers(this.keys.psAgentListeners());
  }

  /** Subscribe (true) or unsubscribe (false) a JID to `alertpublishers`; false if nothing changed. */
  async setAgentListener(jid: string, on: boolean): Promise<boolean> {
    const key = this.keys.psAgentListeners();
    const changed = on ? await this.#redis.sadd(key, jid) : await this.#redis.srem(key, jid);
    return changed === 1;
  }

  async removeSubscription(node: string, jid: string): Promise<void> {
    const k = this.keys;
    const bare = bareJid(jid);
    check(
      await this.#redis.psRemoveSubscription(
        k.psNode(node),
        k.psSubscriptions(node),
        k.psDeliver(node),
        k.psUserSubs(bare),
        jid,
        node,
      ),
      node,
    );
  }

  async setAffiliation(node: string, bare: string, affiliation: Affiliation): Promise<void> {
    const k = this.keys;
    check(
      await this.#redis.psSetAffiliation(
        k.psNode(node),
        k.psAffiliations(node),
        k.psSubscriptions(node),
        k.psDeliver(node),
        bare,
        affiliation,
        node,
        k.prefix,
      ),
      node,
    );
  }

  async expire(node: string, now = Date.now()): Promise<number> {
    const k = this.keys;
    return Number(
      await this.#redis.psExpireItems(
        k.psNode(node),
        k.psItems(node),
        k.psItemData(node),
        String(now),
        k.prefix,
      ),
    );
  }

  /** What the items of every node `owner` owns cost its quota (see OwnerQuota). */
  async usage(owner: string): Promise<Usage> {
    const [items, bytes] = await this.#redis.hmget(this.keys.psUsage(owner), "items", "bytes");
    return { items: Number(items ?? 0), bytes: Number(bytes ?? 0) };
  }

  async expiringNodes(): Promise<string[]> {
    return this.#redis.smembers(this.keys.psExpiring());
  }

  async subscriptions(node: string): Promise<Subscription[]> {
    const hash = await this.#redis.hgetall(this.keys.psSubscriptions(node));
    return Object.entries(hash).map(([jid, v]) => parseSubscription(jid, v));
  }

  async affiliations(node: string): Promise<Array<{ jid: string; affiliation: Affiliation }>> {
    const hash = await this.#redis.hgetall(this.keys.psAffiliations(node));
    return Object.entries(hash).map(([jid, a]) => ({ jid, affiliation: a as Affiliation }));
  }

  async subscriberCount(node: string): Promise<number> {
    return this.#redis.hlen(this.keys.psSubscriptions(node));
  }

  /** Every subscription of a bare JID (any resource), across nodes. */
  async userSubscriptions(bare: string): Promise<Array<{ node: string } & Subscription>> {
    const members = await this.#redis.smembers(this.keys.psUserSubs(bare));
    if (members.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    const pairs = members.map((m) => {
      const i = m.indexOf("\n");
      return { node: m.slice(0, i), jid: m.slice(i + 1) };
    });
    for (const p of pairs) pipeline.hget(this.keys.psSubscriptions(p.node), p.jid);
    const results = (await pipeline.exec()) ?? [];
    const out: Array<{ node: string } & Subscription> = [];
    pairs.forEach((p, i) => {
      const v = results[i]?.[1] as string | null;
      if (v) out.push({ node: p.node, ...parseSubscription(p.jid, v) });
    });
    return out;
  }

  async userAffiliations(bare: string): Promise<Array<{ node: string; affiliation: Affiliation }>> {
    const nodes = await this.#redis.smembers(this.keys.psUserNodes(bare));
    if (nodes.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const node of nodes) pipeline.hget(this.keys.psAffiliations(node), bare);
    const results = (await pipeline.exec()) ?? [];
    const out: Array<{ node: string; affiliation: Affiliation }> = [];
    nodes.forEach((node, i) => {
      const a = results[i]?.[1] as string | null;
      if (a) out.push({ node, affiliation: a as Affiliation });
    });
    return out;
  }

  /** Sorted set of the nodes that are not agent nodes (by creation), kept by the create and delete scripts. */
  get plainNodesKey(): string {
    return `${this.keys.prefix}ps:plain-nodes`;
  }

  /** Index the non-agent nodes made before `plainNodesKey` existed (once per Redis). */
  async indexPlainNodes(): Promise<number> {
    return Number(
      await this.#redis.psIndexPlainNodes(
        this.keys.psNodes(),
        this.plainNodesKey,
        `${this.keys.prefix}ps:plain-nodes-indexed`,
      ),
    );
  }

  /**
   * One page of a sorted set (see PAGE_IDS), with `head` listed first when given.
   * Undefined when the after/before id is not in the list.
   */
  async page(key: string, request: PageRequest, head = ""): Promise<Page | undefined> {
    const anchor =
      request.mode === "index" ? String(request.index) : request.mode === "last" ? "" : request.id;
    const reply = await this.#redis.psPageIds(key, head, request.mode, anchor, String(request.max));
    if (typeof reply === "number") return undefined;
    const [count, firstIndex, ...ids] = reply;
    return { count: Number(count), firstIndex: Number(firstIndex), ids: ids as string[] };
  }

  /**
   * One retrieval page of at most `budget` bytes of `<item/>` elements (see
   * READ_ITEMS), skipping items published before `cutoff` (ms; 0: none).
   * Undefined when the after/before id is not stored.
   */
  async readItems(
    node: string,
    request: ItemsRequest,
    budget: number,
    cutoff: number,
  ): Promise<ItemsPage | undefined> {
    const k = this.keys;
    const max = request.mode === "ids" ? 0 : request.max;
    const anchor =
      request.mode === "index"
        ? String(request.index)
        : request.mode === "after" || request.mode === "before"
          ? request.id
          : "";
    const reply = await this.#redis.psReadItems(
      k.psItems(node),
      k.psItemData(node),
      request.mode,
      String(Math.max(budget, 0)),
      String(cutoff),
      String(max),
      anchor,
      ...(request.mode === "ids" ? request.ids : []),
    );
    if (typeof reply === "number") return undefined;
    const [status, count, firstRank, ...rest] = reply;
    const items: StoredItem[] = [];
    for (let i = 0; i + 1 < rest.length; i += 2)
      items.push(parseRecord(String(rest[i]), String(rest[i + 1])));
    return {
      items,
      count: Number(count),
      firstRank: Number(firstRank),
      status: Number(status) === 0 ? "fit" : Number(status) === 1 ? "cut" : "too-big",
    };
  }

  async itemIds(node: string): Promise<string[]> {
    return this.#redis.zrange(this.keys.psItems(node), 0, -1);
  }

  async itemsByIds(node: string, ids: string[]): Promise<StoredItem[]> {
    if (ids.length === 0) return [];
    const recs = await this.#redis.hmget(this.keys.psItemData(node), ...ids);
    const out: StoredItem[] = [];
    ids.forEach((id, i) => {
      const rec = recs[i];
      if (rec) out.push(parseRecord(id, rec));
    });
    return out;
  }

  /** The item with the highest seq, if any. */
  async lastItem(node: string): Promise<StoredItem | undefined> {
    const [id] = await this.idsByRank(node, -1, -1);
    if (id === undefined) return undefined;
    return (await this.itemsByIds(node, [id]))[0];
  }

  /** Ids by seq rank range (negative = from the end), oldest first. */
  idsByRank(node: string, start: number, stop: number): Promise<string[]> {
    return this.#redis.zrange(this.keys.psItems(node), start, stop);
  }
}
