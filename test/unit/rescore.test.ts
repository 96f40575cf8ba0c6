/** The debounced rescoring's rounds (src/monitor/scoring/rescore.ts). */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import { debouncedRescore, type Rescorer } from "../../src/monitor/scoring/rescore.js";
import { waitFor } from "../helpers/wait.js";

/** Records each round; a round takes `ms`, and counts how many ran at once. */
function recordingScorer(ms = 5, failFirst = false) {
  const rounds: string[][] = [];
  const single: string[] = [];
  let running = 0;
  let most = 0;
  let failed = !failFirst;
  const scorer: Rescorer = {
    async rescoreMany(jids) {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, ms));
      running -= 1;
      if (!failed) {
        failed = true;
        throw new Error("redis went away");
      }
      rounds.push(jids);
    },
    async rescore(jid) {
      single.push(jid);
    },
  };
  return { scorer, rounds, single, most: () => most };
}

describe("debounced rescoring", () => {
  it("scores a sweep of every host in bounded rounds, one at a time, each host once", async () => {
    const { scorer, rounds, most } = recordingScorer();
    const rescoring = debouncedRescore(scorer, silentLogger(), { batch: 500, tickMs: 20 });
    try {
      for (let i = 0; i < 1200; i++) rescoring.soon(`host${i}`);
      for (let i = 0; i < 100; i++) rescoring.soon(`host${i}`); // due again: still once
      await waitFor(() => rescoring.pending() === 0 && rounds.flat().length === 1200, {
        timeoutMs: 5000,
        what: "every host scored",
      });
      expect(rounds.map((r) => r.length)).toEqual([500, 500, 200]);
      expect(new Set(rounds.flat()).size).toBe(1200);
      expect(rounds[0]?.[0]).toBe("host0"); // oldest due first
      expect(most()).toBe(1);
    } finally {
      rescoring.stop();
    }
  });

  it("falls back to one host at a time when a round fails, losing none", async () => {
    const { scorer, single } = recordingScorer(1, true);
    const rescoring = debouncedRescore(scorer, silentLogger(), { batch: 10, tickMs: 20 });
    try {
      for (let i = 0; i < 3; i++) rescoring.soon(`host${i}`);
      await waitFor(() => single.length === 3, { timeoutMs: 5000, what: "one by one" });
      expect(single).toEqual(["host0", "host1", "host2"]);
    } finally {
      rescoring.stop();
    }
  });
});
