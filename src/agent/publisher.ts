/**
 * Publishes spooled results, in sequence order, as XEP-0060 publish IQs to
 * the agent's node on the component (docs/protocol.md, "Results"). A result
 * leaves the spool only when its IQ `result` arrives. Up to `window` IQs are
 * in flight; they go out in order on the one connection.
 *
 * On a disconnect, a timeout or a transient error everything in flight is
 * forgotten (a "generation" ends) and sending restarts from the oldest
 * unacknowledged item: the service is idempotent on seq, so an item that was
 * stored but whose result was lost is acknowledged again, not stored twice.
 * An item the service rejects as malformed (bad-request, not-acceptable,
 * policy-violation) would block the queue forever: it is logged and skipped.
 *
 * https://xmpp.org/extensions/xep-0060.html#publisher-publish
 */
import type { Logger } from "../log/index.js";
import { NS_PUBSUB } from "../protocol/index.js";
import type { XmppClient } from "../xmpp/index.js";
import { el, ltx } from "../xmpp/index.js";
import type { Spool, SpoolEntry } from "./spool.js";

const PERMANENT = new Set(["bad-request", "not-acceptable", "policy-violation", "jid-malformed"]);

export interface PublisherOptions {
  spool: Spool;
  /** e.g. monitor.localhost */
  to: string;
  /** e.g. agents/web01@localhost */
  node: string;
  window: number;
  timeoutMs: number;
  log: Logger;
}

export interface PublisherStats {
  /** XMPP sessions that went online (1 + reconnections). */
  sessions: number;
  sent: number;
  acked: number;
  rejected: number;
  retries: number;
}

export class Publisher {
  readonly #o: PublisherOptions;
  #client: XmppClient | undefined;
  #generation = 0;
  #inFlight = 0;
  /** Highest seq sent in this generation. */
  #cursor = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #drainWaiters: Array<() => void> = [];
  readonly stats: PublisherStats = { sessions: 0, sent: 0, acked: 0, rejected: 0, retries: 0 };

  constructor(options: PublisherOptions) {
    this.#o = options;
  }

  /** A (re)connected session: replay from the oldest unacknowledged item. */
  online(client: XmppClient): void {
    this.#client = client;
    this.stats.sessions += 1;
    this.#restart();
  }

  offline(): void {
    this.#client = undefined;
    this.#generation += 1;
    this.#inFlight = 0;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** Something was appended to the spool. */
  kick(): void {
    this.#pump();
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves when nothing is waiting in the spool (or after `timeoutMs`). */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.#o.spool.pendingCount === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#drainWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  #restart(): void {
    this.#generation += 1;
    this.#inFlight = 0;
    this.#cursor = this.#o.spool.ackedSeq;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#pump();
  }

  #pump(): void {
    const client = this.#client;
    if (!client || this.#retryTimer || client.status !== "online") return;
    while (this.#inFlight < this.#o.window) {
      const entry = this.#o.spool.after(this.#cursor);
      if (!entry) break;
      this.#cursor = entry.seq;
      this.#inFlight += 1;
      void this.#send(client, entry, this.#generation);
    }
  }

  async #send(client: XmppClient, entry: SpoolEntry, generation: number): Promise<void> {
    const { spool, log } = this.#o;
    let payload: ReturnType<typeof ltx.parse>;
    try {
      payload = ltx.parse(spool.read(entry));
    } catch (err) {
      log.error({ seq: entry.seq, err: (err as Error).message }, "unreadable spool item skipped");
      this.#settle(entry.seq, generation, "rejected");
      return;
    }
    const iq = el(
      "iq",
      { type: "set", to: this.#o.to },
      el(
        "pubsub",
        { xmlns: NS_PUBSUB },
        el("publish", { node: this.#o.node }, el("item", {}, payload)),
      ),
    );
    this.stats.sent += 1;
    try {
      await client.iqCaller.request(iq, this.#o.timeoutMs);
      this.#settle(entry.seq, generation, "acked");
    } catch (err) {
      if (generation !== this.#generation) return;
      const condition = (err as { condition?: string }).condition;
      if (condition && PERMANENT.has(condition)) {
        log.warn({ seq: entry.seq, condition }, "service rejected a result; skipped");
        this.#settle(entry.seq, generation, "rejected");
        return;
      }
      this.#retryLater(entry.seq, condition ?? (err as Error).message);
    }
  }

  #settle(seq: number, generation: number, how: "acked" | "rejected"): void {
    if (generation !== this.#generation) {
      // A late answer from an earlier round still tells us the service has it.
      if (how === "acked") this.#o.spool.ack(seq);
      return;
    }
    this.#inFlight -= 1;
    this.#failures = 0;
    this.stats[how] += 1;
    this.#o.spool.ack(seq);
    if (this.#o.spool.pendingCount === 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    }
    this.#pump();
  }

  #retryLater(seq: number, why: string): void {
    this.#generation += 1;
    this.#inFlight = 0;
    this.#failures += 1;
    this.stats.retries += 1;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.#failures - 1, 6));
    this.#o.log.warn(
      { seq, why, retryInMs: delay },
      "publish failed; will replay from the oldest unacknowledged",
    );
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#client) this.#restart();
    }, delay);
  }
}
