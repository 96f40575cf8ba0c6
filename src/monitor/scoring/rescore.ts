/**
 * Rescoring, debounced per host: a burst of results for one host costs one
 * evaluation, and the hosts due are scored in rounds of a few round trips.
 *
 * Rounds are bounded (`batch` hosts) and yield between them. The score sweep
 * marks every host due each scoreIntervalMs; scored in one round, 10,000
 * hosts held the event loop while their rules ran and queued 10,000 scripts
 * in Redis ahead of the ingest's commits: bench:fleet saw the processing lag
 * jump to 4.8 s once a minute. In rounds, the ingest's work interleaves.
 */
import type { Logger } from "../../log/index.js";

export interface Rescorer {
  rescoreMany(jids: string[]): Promise<unknown>;
  rescore(jid: string): Promise<unknown>;
}

export interface RescoreOptions {
  /** Hosts per round. */
  batch?: number;
  /** How often due hosts are looked for; a round that leaves hosts due is followed at once. */
  tickMs?: number;
}

export const RESCORE_BATCH = 500;
const RESCORE_TICK_MS = 250;

export interface DebouncedRescore {
  /** Score this host in the next round. */
  soon(jid: string): void;
  /** Hosts waiting to be scored. */
  pending(): number;
  stop(): void;
}

export function debouncedRescore(
  scorer: Rescorer,
  log: Logger,
  { batch = RESCORE_BATCH, tickMs = RESCORE_TICK_MS }: RescoreOptions = {},
): DebouncedRescore {
  // A Set keeps insertion order and ignores repeats: hosts are scored oldest-due first.
  const due = new Set<string>();
  let running = false;
  let stopped = false;

  const take = (): string[] => {
    const jids: string[] = [];
    for (const jid of due) {
      if (jids.length >= batch) break;
      jids.push(jid);
    }
    for (const jid of jids) due.delete(jid);
    return jids;
  };

  const scoreOneByOne = async (jids: string[], err: Error) => {
    log.warn({ hosts: jids.length, err: err.message }, "rescore failed, rescoring one by one");
    for (const jid of jids)
      await scorer
        .rescore(jid)
        .catch((e: Error) => log.warn({ jid, err: e.message }, "rescore failed"));
  };

  const round = async (): Promise<void> => {
    if (running || stopped || due.size === 0) return;
    running = true;
    const jids = take();
    try {
      await scorer.rescoreMany(jids);
    } catch (err) {
      await scoreOneByOne(jids, err as Error);
    } finally {
      running = false;
    }
    // More due than one round holds (a sweep): the next round after a yield.
    if (due.size > 0) setImmediate(() => void round());
  };

  const timer = setInterval(() => void round(), tickMs);
  timer.unref();
  return {
    soon: (jid) => void due.add(jid),
    pending: () => due.size,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
