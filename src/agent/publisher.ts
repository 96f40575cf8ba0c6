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
 * A publish refused with `<seq-regressed high="H"/>` (docs/protocol.md: this
 * agent's seq went back far below what its node has stored, e.g. a reinstall
 * with the clock behind) was not stored. Sending pauses until nothing is in
 * flight; then the spool numbers from H + 1 on, every unacknowledged result
 * numbered at or below H is appended again, in order, with a new seq (same
 * content and time) and only then leaves the spool under its old seq, and
 * publishing resumes: nothing is lost, the order is kept.
 *
 * https://xmpp.org/extensions/xep-0060.html#publisher-publish
 */
import type { Logger } from "../log/index.js";
import { NS_JABMON, NS_PUBSUB } from "../protocol/index.js";
import type { XmppClient } from "../xmpp/index.js";
import { el, ltx } from "../xmpp/index.js";
import type { Spool, SpoolEntry } from "./spool.js";

const PERMANENT = new Set(["bad-request", "not-acceptable", "policy-violation", "jid-malformed"]);

/** The service's highest stored seq from a `<seq-regressed/>` refusal, if that is what `err` is. */
function regressedHigh(err: unknown): number | undefined {
  const element = (err as { element?: { getChild(name: string, ns?: string): unknown } }).element;
  const child = element?.getChild("seq-regressed", NS_JABMON) as
    | { attrs: Record<string, string | undefined> }
    | undefined;
  const high = Number(child?.attrs.high);
  return child && Number.isSafeInteger(high) && high > 0 ? high : undefined;
}

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
  /** Results refused as seq-regressed and published again under a new seq. */
  reseeded: number;
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
  /** Seqs refused as regressed, to append again once nothing is in flight. */
  #refused = new Set<number>();
  #refusedHigh = 0;
  /**
   * Old seqs of results appended again under a new seq: never sent again, even
   * while an older result holds them in the spool (acknowledged out of order).
   */
  readonly #superseded = new Set<number>();
  /** Acknowledged out of order (stored): not renumbered by a re-seed. */
  readonly #acked = new Set<number>();
  readonly stats: PublisherStats = {
    sessions: 0,
    sent: 0,
    acked: 0,
    rejected: 0,
    retries: 0,
    reseeded: 0,
  };

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
    if (this.#refused.size > 0) {
      // Nothing more goes out until every answer is in: then the refused are renumbered.
      if (this.#inFlight > 0 || this.#retryTimer) return;
      if (!this.#reseed()) return;
    }
    const client = this.#client;
    if (!client || this.#retryTimer || client.status !== "online") return;
    while (this.#inFlight < this.#o.window) {
      let entry = this.#o.spool.after(this.#cursor);
      while (entry && this.#superseded.has(entry.seq)) entry = this.#o.spool.after(entry.seq);
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
      const high = regressedHigh(err);
      if (high !== undefined) {
        this.#inFlight -= 1;
        this.#refused.add(entry.seq);
        this.#refusedHigh = Math.max(this.#refusedHigh, high);
        this.#pump();
        return;
      }
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
    if (how === "acked" && seq > this.#o.spool.ackedSeq) this.#acked.add(seq);
    if (generation !== this.#generation) {
      // A late answer from an earlier round still tells us the service has it.
      if (how === "acked") this.#o.spool.ack(seq);
      return;
    }
    this.#inFlight -= 1;
    this.#failures = 0;
    this.stats[how] += 1;
    this.#o.spool.ack(seq);
    for (const done of this.#acked) if (done <= this.#o.spool.ackedSeq) this.#acked.delete(done);
    if (this.#o.spool.pendingCount === 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    }
    this.#pump();
  }

  /**
   * Renumber above the service's highest: every unacknowledged result numbered
   * at or below it (the refused ones and those not sent yet, which would be
   * refused too), in spool order, is appended again with a new seq and only
   * then lets its old record go. Renumbering them all keeps the results in the
   * order they were made. The new record is durable (fsync: always) before the
   * old one is acknowledged, so a crash between the two sends the result twice
   * at worst, never loses it. Returns false if it must be retried.
   */
  #reseed(): boolean {
    const { spool, log } = this.#o;
    const high = this.#refusedHigh;
    const old: number[] = [];
    for (let e = spool.first(); e && e.seq <= high; e = spool.after(e.seq))
      if (!this.#superseded.has(e.seq) && !this.#acked.has(e.seq)) old.push(e.seq);
    if (!Number.isSafeInteger(high + old.length + 1)) {
      log.error({ high }, "the node's highest seq leaves no room to re-seed: delete the node");
      this.#retryLater(old[0] ?? 0, "no seq above the node's highest");
      return false;
    }
    spool.raiseNextSeq(high + 1);
    const first = spool.nextSeq;
    try {
      for (const seq of old) {
        // Looked up now: a compaction since the refusal moves records.
        const entry = spool.after(seq - 1);
        if (entry?.seq !== seq) continue; // dropped meanwhile (spool limits)
        let payload: ReturnType<typeof ltx.parse>;
        try {
          payload = ltx.parse(spool.read(entry));
        } catch (err) {
          // As #send does: an unreadable record would block the spool for ever.
          log.error({ seq, err: (err as Error).message }, "unreadable spool item skipped");
          spool.ack(seq);
          this.stats.rejected += 1;
          continue;
        }
        spool.append((next) => {
          payload.attrs.seq = String(next);
          return payload.toString();
        }, entry.timeMs);
        this.#superseded.add(seq);
        spool.ack(seq);
        this.stats.reseeded += 1;
      }
    } catch (err) {
      log.error({ err: (err as Error).message }, "cannot re-seed refused results; will retry");
      this.#retryLater(old[0] ?? 0, "re-seed failed");
      return false;
    }
    this.#refused.clear();
    this.#refusedHigh = 0;
    for (const seq of this.#superseded) if (seq <= spool.ackedSeq) this.#superseded.delete(seq);
    log.warn(
      { results: old.length, high, from: first, to: spool.nextSeq - 1 },
      "the service refused results whose seq went back below its highest: re-seeded above it, publishing them again",
    );
    return true;
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
