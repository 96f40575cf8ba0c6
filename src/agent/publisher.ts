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
 * A backlog (results waiting after a reconnect) goes faster as `<results/>`
 * requests of up to `batch` results each, if the service offers them
 * (disco#info feature `urn:jabmon:0#results`, docs/protocol.md, "Replaying a
 * backlog"). The service publishes each result as its own publish would be
 * and answers each one: every result is acknowledged, skipped, re-seeded or
 * replayed exactly as if it had gone in its own IQ. A request goes only when
 * nothing else is in flight and nothing follows it until it is answered, so
 * the service stores the results in seq order. Anything else goes one result
 * per publish IQ, as before.
 *
 * https://xmpp.org/extensions/xep-0060.html#publisher-publish
 */
import type { Logger } from "../log/index.js";
import { FEATURE_RESULTS, NS_DISCO_INFO, NS_JABMON, NS_PUBSUB } from "../protocol/index.js";
import type { XmppClient } from "../xmpp/index.js";
import { el, ltx, NS_STANZAS } from "../xmpp/index.js";
import type { Spool, SpoolEntry } from "./spool.js";

const PERMANENT = new Set(["bad-request", "not-acceptable", "policy-violation", "jid-malformed"]);
/** Spool bytes per `<results/>` request at most: well under ejabberd's max_stanza_size. */
const BATCH_MAX_BYTES = 64 * 1024;

/** What a refused result of a `<results/>` reply fails with: the shape of a publish's StanzaError. */
interface RefusedResult {
  condition: string | undefined;
  element: unknown;
  message: string;
}

function refusedError(error: ReturnType<typeof ltx.parse> | undefined): RefusedResult {
  const condition = error
    ?.getChildElements()
    .find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== "text")?.name;
  return { condition, element: error, message: condition ?? "refused without an error" };
}

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
  /** Results per `<results/>` request at most (1: never batch). */
  batch?: number;
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
  /** `<results/>` requests sent (each carrying several results; `sent` counts the results). */
  batches: number;
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
  /** The service of this session takes `<results/>` requests. */
  #batching = false;
  /** A `<results/>` request is in flight (this generation): nothing else goes. */
  #batchInFlight = false;
  /** This session's disco#info of the service is not answered yet: nothing goes. */
  #discovering = false;
  readonly stats: PublisherStats = {
    sessions: 0,
    sent: 0,
    acked: 0,
    rejected: 0,
    retries: 0,
    reseeded: 0,
    batches: 0,
  };

  constructor(options: PublisherOptions) {
    this.#o = options;
  }

  /** A (re)connected session: replay from the oldest unacknowledged item. */
  online(client: XmppClient): void {
    this.#client = client;
    this.stats.sessions += 1;
    this.#batching = false;
    // A backlog waits one round trip for the answer, so that it all goes in batches.
    this.#discovering = (this.#o.batch ?? 1) > 1;
    this.#restart();
    if (this.#discovering) void this.#discoverBatching(client);
  }

  offline(): void {
    this.#client = undefined;
    this.#generation += 1;
    this.#inFlight = 0;
    this.#batchInFlight = false;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /**
   * The component reconnected (its re-probe presence): publishes that were in
   * flight to its previous connection will never be answered. Replayed now
   * from the oldest unacknowledged, not after the publish timeout: meanwhile
   * later results would reach the new connection and be stored first (seen
   * as reordered results after a component `kill -9` in bench:faults). The
   * service ignores a seq it already has, so replaying a stored one is harmless.
   */
  componentReturned(): void {
    if (!this.#client || (this.#inFlight === 0 && !this.#retryTimer)) return;
    this.#failures = 0;
    this.#restart();
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

  /** Asks the service (disco#info) whether it takes `<results/>`; until it answers, one per publish. */
  async #discoverBatching(client: XmppClient): Promise<void> {
    try {
      const info = await client.iqCaller.request(
        el("iq", { type: "get", to: this.#o.to }, el("query", { xmlns: NS_DISCO_INFO })),
        this.#o.timeoutMs,
      );
      const features = info.getChild("query", NS_DISCO_INFO)?.getChildren("feature") ?? [];
      if (this.#client !== client) return;
      this.#batching = features.some((f) => f.attrs.var === FEATURE_RESULTS);
    } catch {
      // No answer: this session publishes one result per IQ.
    }
    if (this.#client !== client) return;
    this.#discovering = false;
    this.#pump();
  }

  #restart(): void {
    this.#generation += 1;
    this.#inFlight = 0;
    this.#batchInFlight = false;
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
    if (!client || this.#retryTimer || this.#discovering || client.status !== "online") return;
    while (this.#inFlight < this.#o.window && !this.#batchInFlight) {
      const entries = this.#nextEntries();
      if (entries.length === 0) break;
      // A batch waits for the publishes in flight, so the service stores in seq order.
      if (entries.length > 1 && this.#inFlight > 0) break;
      this.#cursor = (entries.at(-1) as SpoolEntry).seq;
      this.#inFlight += 1;
      this.#batchInFlight = entries.length > 1;
      void this.#send(client, entries, this.#generation);
    }
  }

  /** The next results to send: one, or a backlog's batch if the service takes them. */
  #nextEntries(): SpoolEntry[] {
    const { spool } = this.#o;
    const max = this.#batching ? (this.#o.batch ?? 1) : 1;
    const entries: SpoolEntry[] = [];
    let bytes = 0;
    for (let entry = spool.after(this.#cursor); entry && entries.length < max; ) {
      if (!this.#superseded.has(entry.seq)) {
        if (entries.length > 0 && bytes + entry.size > BATCH_MAX_BYTES) break;
        entries.push(entry);
        bytes += entry.size;
      }
      entry = spool.after(entry.seq);
    }
    return entries;
  }

  /** Publishes `entries` (one publish IQ, or one `<results/>` request), then frees the slot. */
  async #send(client: XmppClient, entries: SpoolEntry[], generation: number): Promise<void> {
    const { spool, log } = this.#o;
    const payloads: Array<{ entry: SpoolEntry; payload: ReturnType<typeof ltx.parse> }> = [];
    for (const entry of entries) {
      try {
        payloads.push({ entry, payload: ltx.parse(spool.read(entry)) });
      } catch (err) {
        log.error({ seq: entry.seq, err: (err as Error).message }, "unreadable spool item skipped");
        this.#settle(entry.seq, generation, "rejected");
      }
    }
    this.stats.sent += payloads.length;
    const [only] = payloads;
    if (payloads.length > 1) await this.#sendBatch(client, payloads, generation);
    else if (only) await this.#sendOne(client, only.entry, only.payload, generation);
    if (generation !== this.#generation) return;
    this.#inFlight -= 1;
    this.#batchInFlight = false;
    this.#pump();
  }

  async #sendOne(
    client: XmppClient,
    entry: SpoolEntry,
    payload: ReturnType<typeof ltx.parse>,
    generation: number,
  ): Promise<void> {
    const iq = el(
      "iq",
      { type: "set", to: this.#o.to },
      el(
        "pubsub",
        { xmlns: NS_PUBSUB },
        el("publish", { node: this.#o.node }, el("item", {}, payload)),
      ),
    );
    try {
      await client.iqCaller.request(iq, this.#o.timeoutMs);
      this.#settle(entry.seq, generation, "acked");
    } catch (err) {
      this.#failed(entry.seq, generation, err);
    }
  }

  /**
   * One `<results/>` request; each result's outcome is handled as its own
   * publish's answer would be. A request that fails as a whole (timeout,
   * disconnect, an error for the IQ) is replayed from the oldest
   * unacknowledged result; a service that refused the request itself is
   * sent one result per publish for the rest of the session.
   */
  async #sendBatch(
    client: XmppClient,
    payloads: Array<{ entry: SpoolEntry; payload: ReturnType<typeof ltx.parse> }>,
    generation: number,
  ): Promise<void> {
    const iq = el(
      "iq",
      { type: "set", to: this.#o.to },
      el("results", { xmlns: NS_JABMON, node: this.#o.node }, ...payloads.map((p) => p.payload)),
    );
    this.stats.batches += 1;
    let reply: ReturnType<typeof ltx.parse>;
    try {
      reply = await client.iqCaller.request(iq, this.#o.timeoutMs);
    } catch (err) {
      if (generation !== this.#generation) return;
      const condition = (err as { condition?: string }).condition;
      if (condition && condition !== "resource-constraint") this.#batching = false;
      this.#retryLater(payloads[0]?.entry.seq ?? 0, condition ?? (err as Error).message);
      return;
    }
    const outcomes = new Map<string, ReturnType<typeof ltx.parse>>();
    for (const o of reply.getChild("results", NS_JABMON)?.getChildElements() ?? [])
      if (o.attrs.seq !== undefined) outcomes.set(String(o.attrs.seq), o);
    for (const { entry } of payloads) {
      const outcome = outcomes.get(String(entry.seq));
      if (outcome?.name === "stored") this.#settle(entry.seq, generation, "acked");
      else if (outcome?.name === "refused")
        this.#failed(entry.seq, generation, refusedError(outcome.getChild("error")));
      // Not answered for: as a lost answer, replayed from the oldest unacknowledged.
      else this.#failed(entry.seq, generation, new Error("no outcome for a batched result"));
    }
  }

  /** A result's publish failed with `err`: re-seed, skip or replay, by what the service said. */
  #failed(seq: number, generation: number, err: unknown): void {
    if (generation !== this.#generation) return;
    const high = regressedHigh(err);
    if (high !== undefined) {
      this.#refused.add(seq);
      this.#refusedHigh = Math.max(this.#refusedHigh, high);
      return;
    }
    const condition = (err as { condition?: string }).condition;
    if (condition && PERMANENT.has(condition)) {
      this.#o.log.warn({ seq, condition }, "service rejected a result; skipped");
      this.#settle(seq, generation, "rejected");
      return;
    }
    this.#retryLater(seq, condition ?? (err as Error).message);
  }

  /** The service answered for `seq`: it leaves the spool (the slot is freed by #send). */
  #settle(seq: number, generation: number, how: "acked" | "rejected"): void {
    if (how === "acked" && seq > this.#o.spool.ackedSeq) this.#acked.add(seq);
    if (generation !== this.#generation) {
      // A late answer from an earlier round still tells us the service has it.
      if (how === "acked") this.#o.spool.ack(seq);
      return;
    }
    this.#failures = 0;
    this.stats[how] += 1;
    this.#o.spool.ack(seq);
    for (const done of this.#acked) if (done <= this.#o.spool.ackedSeq) this.#acked.delete(done);
    if (this.#o.spool.pendingCount === 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    }
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
    this.#batchInFlight = false;
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
