/**
 * RedisRpcQueue: a minimal per-agent ordered queue of RPC requests waiting
 * for an offline agent, each with an expiry ("XML-RPC messages should age
 * out"), behind the RpcQueue interface.
 *
 * Guarantees, each from one Lua script (one state change = one script):
 * - claimNext pops the oldest request atomically and says whether it had
 *   expired: a request is handed out at most once, and never after its expiry.
 * - expire removes a request only if it is still queued and due, so a request
 *   is either run or expired, never both.
 */
import type { Redis } from "ioredis";
import { defineScripts, type Keys, luaScript } from "../store/index.js";

export interface QueuedRequest {
  id: string;
  /** The agent's bare JID. */
  jid: string;
  method: string;
  /** The `<params>` element, serialised, exactly as it will be sent to the agent. */
  paramsXml: string;
  /** The caller's full JID and IQ id, to reply after a restart of the component. */
  from: string;
  iqId: string;
  createdAt: number;
  expiresAt: number;
}

export type Claim = { request: QueuedRequest; expired: boolean } | undefined;

export interface RpcQueue {
  /** Returns the queue length, or -1 if the agent's queue is full. */
  enqueue(request: QueuedRequest, maxLength: number): Promise<number>;
  length(jid: string): Promise<number>;
  claimNext(jid: string, now: number): Promise<Claim>;
  /** Remove and return up to `limit` requests whose expiry is at or before `now`. */
  expireDue(now: number, limit?: number): Promise<QueuedRequest[]>;
}

/** The queue's scripts, in lua/ (KEYS and ARGV in each file's header). */
const SCRIPTS = {
  enqueueRpc: luaScript(import.meta.url, "enqueueRpc-3"),
  claimRpc: luaScript(import.meta.url, "claimRpc-3"),
  expireRpc: luaScript(import.meta.url, "expireRpc-3"),
};

type ScriptedRedis = Redis & {
  enqueueRpc(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
  claimRpc(k1: string, k2: string, k3: string, now: string): Promise<[number, string] | null>;
  expireRpc(k1: string, k2: string, k3: string, id: string, now: string): Promise<string | null>;
};

export class RedisRpcQueue implements RpcQueue {
  readonly #redis: ScriptedRedis;
  readonly #keys: Keys;

  constructor(redis: Redis, keys: Keys) {
    this.#redis = defineScripts<ScriptedRedis>(redis, SCRIPTS);
    this.#keys = keys;
  }

  #shared(jid: string): [string, string, string] {
    const k = this.#keys;
    return [k.rpcQueue(jid), k.rpcRequests(), k.rpcExpiries()];
  }

  enqueue(request: QueuedRequest, maxLength: number): Promise<number> {
    return this.#redis.enqueueRpc(
      ...this.#shared(request.jid),
      request.id,
      JSON.stringify(request),
      String(request.expiresAt),
      String(maxLength),
    );
  }

  length(jid: string): Promise<number> {
    return this.#redis.llen(this.#keys.rpcQueue(jid));
  }

  async claimNext(jid: string, now: number): Promise<Claim> {
    const result = await this.#redis.claimRpc(...this.#shared(jid), String(now));
    if (!result) return undefined;
    return { expired: Number(result[0]) === 1, request: JSON.parse(result[1]) as QueuedRequest };
  }

  async expireDue(now: number, limit = 100): Promise<QueuedRequest[]> {
    const k = this.#keys;
    const ids = await this.#redis.zrangebyscore(k.rpcExpiries(), "-inf", now, "LIMIT", 0, limit);
    const expired: QueuedRequest[] = [];
    for (const id of ids) {
      const json = await this.#redis.hget(k.rpcRequests(), id);
      if (!json) {
        await this.#redis.zrem(k.rpcExpiries(), id);
        continue;
      }
      const { jid } = JSON.parse(json) as QueuedRequest;
      const removed = await this.#redis.expireRpc(...this.#shared(jid), id, String(now));
      if (removed) expired.push(JSON.parse(removed) as QueuedRequest);
    }
    return expired;
  }
}
