/**
 * Calls that run on an agent (check.run, agent.reload): sent at once to an
 * online agent as a Jabber-RPC IQ to its full JID; for an offline agent put
 * in its ordered queue with an expiry and run when it comes back (the
 * PresenceTracker's hostOnline), or answered with an "expired" fault and
 * never run.
 *
 * The caller's IQ stays open until then: its reply is the agent's answer or
 * the fault. The queue entry keeps the caller's JID and IQ id, so the reply
 * still goes out if the component restarted meanwhile.
 *
 * A claimed request is sent once: if the agent then fails to answer, the
 * caller gets a fault and the request is not retried (at most once, never late).
 */
import { randomUUID } from "node:crypto";
import type { ComponentLink } from "../component/index.js";
import type { Logger } from "../log/index.js";
import { NS_RPC } from "../protocol/index.js";
import type { HostStore } from "../store/index.js";
import { type Element, el, ltx } from "../xmpp/index.js";
import type { AgentsBackend, ForwardOptions } from "./backend.js";
import {
  decodeMethodResponse,
  encodeValue,
  faultQuery,
  type RpcValue,
  responseQuery,
} from "./codec.js";
import { RpcFault } from "./errors.js";
import type { QueuedRequest, RpcQueue } from "./queue.js";
import { capReply, DEFAULT_MAX_REPLY_BYTES, iqEnvelopeBytes } from "./reply.js";

export interface AgentForwarderOptions {
  link: ComponentLink;
  hosts: HostStore;
  queue: RpcQueue;
  log: Logger;
  /** Expiry of a queued request when the caller gives none. */
  defaultExpiryS: number;
  maxQueuedPerAgent: number;
  /** How long an online agent has to answer. */
  agentTimeoutMs: number;
  /** How often expired requests are looked for. */
  sweepMs: number;
  /** The largest answer sent to a caller (rpc.maxReplyBytes); default 262,144. */
  maxReplyBytes?: number;
}

type Outcome = { ok: true; value: RpcValue } | { ok: false; fault: RpcFault };
interface Waiter {
  resolve(outcome: Outcome): void;
  /** After this (ms), no outcome can reach this instance any more (see `sweep`). */
  deadline: number;
}

function paramsXml(params: RpcValue[]): string {
  const element = el("params");
  for (const param of params) element.cnode(el("param", {}, encodeValue(param)));
  return element.toString();
}

export class AgentForwarder implements AgentsBackend {
  readonly #o: AgentForwarderOptions;
  readonly #waiters = new Map<string, Waiter>();
  readonly #draining = new Map<string, Promise<void>>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: AgentForwarderOptions) {
    this.#o = options;
  }

  runCheck(jid: string, check: string, options: ForwardOptions): Promise<RpcValue> {
    return this.call(jid, "check.run", [check], options);
  }

  reloadAgent(jid: string, options: ForwardOptions): Promise<RpcValue> {
    return this.call(jid, "agent.reload", [], options);
  }

  /** Start sweeping expired requests and run what waits for agents already online. */
  async start(): Promise<void> {
    this.#sweeper = setInterval(() => void this.sweep(), this.#o.sweepMs);
    this.#sweeper.unref();
    await this.sweep();
    for (const host of await this.#o.hosts.onlineHosts()) {
      if ((await this.#o.queue.length(host.jid)) > 0) this.hostOnline(host.jid);
    }
  }

  /** Callers still waiting here for an outcome (a leak counter for tests and metrics). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Stop. Waiters are let go without an answer: their requests stay queued in
   * Redis with the caller's JID and IQ id, and whichever instance settles them
   * answers the caller (a fault from here would pre-empt that answer).
   */
  stop(): void {
    clearInterval(this.#sweeper);
    this.#waiters.clear();
  }

  /** Wire to PresenceTracker's hostOnline. */
  hostOnline(jid: string): void {
    const previous = this.#draining.get(jid) ?? Promise.resolve();
    const next = previous
      .then(() => this.#drain(jid))
      .catch((err) => this.#o.log.error({ err, jid }, "draining the RPC queue failed"))
      .finally(() => {
        if (this.#draining.get(jid) === next) this.#draining.delete(jid);
      });
    this.#draining.set(jid, next);
  }

  async call(
    jid: string,
    method: string,
    params: RpcValue[],
    options: ForwardOptions,
  ): Promise<RpcValue> {
    const { hosts, queue, log } = this.#o;
    const host = await hosts.get(jid);
    if (!host) throw new RpcFault("JABMON_RPC_NOT_FOUND", `no host ${jid} is known`);
    const xml = paramsXml(params);
    // Straight to an online agent, unless earlier requests still wait: order is kept.
    if (host.online && host.fullJid && !this.#draining.has(jid) && (await queue.length(jid)) === 0)
      return this.#send(jid, host.fullJid, method, xml);

    const expiryS = options.expiryS ?? this.#o.defaultExpiryS;
    if (expiryS === 0)
      throw new RpcFault(
        "JABMON_RPC_AGENT_OFFLINE",
        `${jid} is offline and expiry is 0: not queued`,
      );
    const now = Date.now();
    const request: QueuedRequest = {
      id: randomUUID(),
      jid,
      method,
      paramsXml: xml,
      from: options.caller.from,
      iqId: options.caller.iqId,
      createdAt: now,
      expiresAt: now + expiryS * 1000,
    };
    const outcome = this.#wait(request);
    let length: number;
    try {
      length = await queue.enqueue(request, this.#o.maxQueuedPerAgent);
    } catch (err) {
      this.#waiters.delete(request.id);
      throw err;
    }
    if (length < 0) {
      this.#waiters.delete(request.id);
      throw new RpcFault(
        "JABMON_RPC_QUEUE_FULL",
        `${jid} already has ${this.#o.maxQueuedPerAgent} queued requests`,
      );
    }
    log.info({ jid, method, id: request.id, expiryS, position: length }, "RPC queued for agent");
    if (host.online) this.hostOnline(jid);
    const result = await outcome;
    if (result.ok) return result.value;
    throw result.fault;
  }

  /**
   * A caller's wait for a queued request. It ends with the request's outcome
   * here, or at its deadline: past expiry plus an agent's answer time the
   * request has been expired, or claimed and answered, by another instance
   * (which replies to the caller itself), so nothing more can come here.
   */
  #wait(request: QueuedRequest): Promise<Outcome> {
    const deadline = request.expiresAt + this.#o.agentTimeoutMs + 2 * this.#o.sweepMs;
    return new Promise<Outcome>((resolve) => this.#waiters.set(request.id, { resolve, deadline }));
  }

  /** Expire every due request: the caller gets a fault; the agent never sees it. */
  async sweep(now = Date.now()): Promise<void> {
    try {
      for (const request of await this.#o.queue.expireDue(now)) this.#expired(request);
    } catch (err) {
      this.#o.log.warn({ err }, "RPC expiry sweep failed");
    }
    this.#dropPastDeadline(now);
  }

  #dropPastDeadline(now: number): void {
    for (const [id, waiter] of this.#waiters) {
      if (waiter.deadline > now) continue;
      this.#waiters.delete(id);
      this.#o.log.warn({ id }, "RPC wait ended without an outcome on this instance");
      waiter.resolve({
        ok: false,
        fault: new RpcFault(
          "JABMON_RPC_EXPIRED",
          "no outcome reached this component instance before the request's expiry",
        ),
      });
    }
  }

  #expired(request: QueuedRequest): void {
    const waitedS = Math.round((request.expiresAt - request.createdAt) / 1000);
    this.#o.log.info({ jid: request.jid, method: request.method, id: request.id }, "RPC expired");
    this.#complete(request, {
      ok: false,
      fault: new RpcFault(
        "JABMON_RPC_EXPIRED",
        `${request.method} for ${request.jid} expired: the agent did not come back within ${waitedS} s; it was not run`,
      ),
    });
  }

  async #drain(jid: string): Promise<void> {
    const { hosts, queue, log } = this.#o;
    for (;;) {
      const host = await hosts.get(jid);
      if (!host?.online || !host.fullJid) return;
      const claim = await queue.claimNext(jid, Date.now());
      if (!claim) return;
      if (claim.expired) {
        this.#expired(claim.request);
        continue;
      }
      const { request } = claim;
      log.info({ jid, method: request.method, id: request.id }, "running queued RPC on agent");
      let outcome: Outcome;
      try {
        outcome = {
          ok: true,
          value: await this.#send(jid, host.fullJid, request.method, request.paramsXml),
        };
      } catch (err) {
        outcome = {
          ok: false,
          fault:
            err instanceof RpcFault
              ? err
              : new RpcFault("JABMON_RPC_AGENT_FAILED", `${jid}: ${(err as Error).message}`),
        };
      }
      this.#complete(request, outcome);
    }
  }

  #complete(request: QueuedRequest, outcome: Outcome): void {
    const waiter = this.#waiters.get(request.id);
    if (waiter) {
      this.#waiters.delete(request.id);
      waiter.resolve(outcome);
      return;
    }
    // Queued before this process started: answer the caller's IQ directly,
    // within the same byte cap as every other answer (reply.ts).
    const { link } = this.#o;
    const attrs = { type: "result", to: request.from, from: link.jid, id: request.iqId };
    const { query, refusedBytes } = capReply(
      outcome.ok
        ? responseQuery(outcome.value)
        : faultQuery(outcome.fault.code, outcome.fault.faultString),
      {
        maxReplyBytes: this.#o.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES,
        envelopeBytes: iqEnvelopeBytes({ from: attrs.to, to: attrs.from, id: attrs.id }),
        method: request.method,
      },
    );
    if (refusedBytes !== undefined)
      this.#o.log.warn(
        { jid: request.jid, method: request.method, bytes: refusedBytes },
        "queued RPC answer over rpc.maxReplyBytes replaced by a fault",
      );
    link.send(el("iq", attrs, query));
  }

  async #send(jid: string, fullJid: string, method: string, params: string): Promise<RpcValue> {
    const { link, agentTimeoutMs } = this.#o;
    const query = el(
      "query",
      { xmlns: NS_RPC },
      el("methodCall", {}, el("methodName", {}, method), ltx.parse(params) as Element),
    );
    let reply: Element;
    try {
      reply = await link.request(
        el("iq", { type: "set", to: fullJid, from: link.jid }, query),
        agentTimeoutMs,
      );
    } catch (err) {
      const e = err as Error & { condition?: string; text?: string };
      const why =
        e.name === "TimeoutError"
          ? `did not answer within ${Math.round(agentTimeoutMs / 1000)} s`
          : e.condition
            ? `refused the call: ${e.condition}${e.text ? ` (${e.text})` : ""}`
            : e.message;
      throw new RpcFault("JABMON_RPC_AGENT_FAILED", `${jid} ${why}`);
    }
    const answer = reply.getChild("query", NS_RPC);
    if (!answer) throw new RpcFault("JABMON_RPC_AGENT_FAILED", `${jid} sent an empty reply`);
    let response: ReturnType<typeof decodeMethodResponse>;
    try {
      response = decodeMethodResponse(answer);
    } catch (err) {
      throw new RpcFault(
        "JABMON_RPC_AGENT_FAILED",
        `${jid} sent malformed XML-RPC: ${(err as Error).message}`,
      );
    }
    if (!response.ok) throw new RpcFault(response.code, `${jid}: ${response.message}`);
    return response.value;
  }
}
