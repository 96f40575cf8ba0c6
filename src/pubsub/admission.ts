/**
 * Back-pressure on the monitor's backlog. Publishes are stored as fast as
 * ejabberd delivers them, but processing them (the monitor's ingest) costs
 * more; under sustained overload (bench:fleet, 5,000 results/s offered on 2
 * cores) the front kept acknowledging and the ingest streams grew without
 * bound: minutes of lag, state shown minutes late, Redis memory rising.
 *
 * While more than `maxBacklog` results wait for processing (sampled every
 * second from the ingest streams, so it holds for every front process), an
 * agent's result is refused with a `wait` `<resource-constraint/>`: it stays
 * in the agent's spool and is published again after the agent's backoff, so
 * the fleet slows to what the monitor can process and nothing is lost.
 * Refusing starts above `maxBacklog` and ends below 80 % of it, so the
 * fleet is not switched on and off every second at the boundary.
 */

import type { Logger } from "../log/index.js";
import { ingestBacklog, type Keys, type Redis } from "../store/index.js";
import { StanzaError } from "../xmpp/index.js";

export interface IngestAdmission {
  /** Throws the `wait` refusal while the monitor is behind. */
  admitResult(): void;
  stop(): void;
}

const SAMPLE_MS = 1000;

export function ingestAdmission(options: {
  redis: Redis;
  keys: Keys;
  log: Logger;
  /** 0: no limit. */
  maxBacklog: number;
  sampleMs?: number;
}): IngestAdmission {
  const { redis, keys, log, maxBacklog } = options;
  if (maxBacklog <= 0) return { admitResult: () => undefined, stop: () => undefined };
  let backlog = 0;
  let refusing = false;
  const sample = async () => {
    try {
      backlog = await ingestBacklog(redis, keys);
    } catch {
      return; // Redis away: the publish path answers that on its own.
    }
    const was = refusing;
    refusing = refusing ? backlog > maxBacklog * 0.8 : backlog > maxBacklog;
    if (refusing !== was)
      log.warn(
        { backlog, maxBacklog },
        refusing
          ? "the monitor is behind: agents' results refused (wait) until it catches up"
          : "the monitor caught up: agents' results accepted again",
      );
  };
  const timer = setInterval(() => void sample(), options.sampleMs ?? SAMPLE_MS);
  timer.unref();
  void sample();
  return {
    admitResult() {
      if (refusing)
        throw new StanzaError("resource-constraint", {
          text: `the monitor is ${backlog} results behind: retry later`,
        });
    },
    stop: () => clearInterval(timer),
  };
}
