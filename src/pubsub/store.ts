/**
 * The pubsub service's Redis state, read directly and changed only through
 * the Lua scripts of scripts.ts. Redis is the truth: nothing here caches.
 */
import type { Keys, Redis } from "../store/index.js";
import { ingestShard } from "../store/index.js";
import { type NodeRecord, recordFromHash } from "./config.js";
import { scriptError } from "./errors.js";
import {
  CONFIGURE_NODE,
  CREATE_NODE,
  DECIDE_SUBSCRIPTION,
  DELETE_NODE,
  EXPIRE_ITEMS,
  PAGE_IDS,
  PUBLISH_ITEM,
  PURGE_NODE,
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
};

const SCRIPTS: Array<[string, number, string]> = [
  ["psPublishItem", 9, PUBLISH_ITEM],
  ["psCreateNode", 5, CREATE_NODE],
  ["psConfigureNode", 4, CONFIGURE_NODE],
  ["psDeleteNode", 9, DELETE_NODE],
  ["psPurgeNode", 4, PURGE_NODE],
  ["psRetractItem", 5, RETRACT_ITEM],
  ["psSetSubscription", 4, SET_SUBSCRIPTION],
  ["psDecideSubscription", 4, DECIDE_SUBSCRIPTION],
  ["psRemoveSubscription", 4, REMOVE_SUBSCRIPTION],
  ["psSetAffiliation", 4, SET_AFFILIATION],
  ["psExpireItems", 3, EXPIRE_ITEMS],
  ["psPageIds", 1, PAGE_IDS],
];

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
    for (const [name, numberOfKeys, lua] of SCRIPTS) {
      if (typeof (redis as unknown as Record<string, unknown>)[name] !== "function")
        redis.defineCommand(name, { numberOfKeys, lua });
    }
    this.#redis = redis as ScriptedRedis;
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
      String(r.preconditions.length / 2),
      ...r.preconditions,
      ...(r.autoCreate ? r.defaults : []),
    );
  }

  static publishResult(reply: Reply, node: string): PublishResult {
    const out = check(reply, node);
    return {
      seq: Number(out[0]),
      duplicate: Number(out[1]) === 1,
      created: Number(out[1]) === 2,
      deliver: out.slice(2) as string[],
    };
  }

  async create(
    node: string,
    owner: string,
    agentNode: boolean,
    config: string[],
    now = Date.now(),
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
      ),
      node,
    );
    return { notify: String(out[0]) !== "0", deliver: out.slice(1) as string[] };
  }

  async setSubscription(node: string, sub: Subscription): Promise<void> {
    const k = this.keys;
    const bare = sub.jid.split("/")[0] as string;
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
    const bare = jid.split("/")[0] as string;
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
    const bare = jid.split("/")[0] as string;
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
      ),
    );
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

  async agentNodes(): Promise<string[]> {
    return this.#redis.zrange(this.keys.psAgents(), 0, -1);
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

  async itemCount(node: string): Promise<number> {
    return this.#redis.zcard(this.keys.psItems(node));
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

  async seqOf(node: string, id: string): Promise<number | undefined> {
    const score = await this.#redis.zscore(this.keys.psItems(node), id);
    return score === null ? undefined : Number(score);
  }

  async rankOf(node: string, id: string): Promise<number> {
    return (await this.#redis.zrank(this.keys.psItems(node), id)) ?? 0;
  }

  /** Up to `max` ids with seq > after, oldest first. */
  idsAfter(node: string, after: number, max: number): Promise<string[]> {
    return this.#redis.zrangebyscore(this.keys.psItems(node), `(${after}`, "+inf", "LIMIT", 0, max);
  }

  /** Up to `max` ids with seq < before, oldest first (the newest `max` of them). */
  async idsBefore(node: string, before: number, max: number): Promise<string[]> {
    const ids = await this.#redis.zrevrangebyscore(
      this.keys.psItems(node),
      `(${before}`,
      "-inf",
      "LIMIT",
      0,
      max,
    );
    return ids.reverse();
  }
}
