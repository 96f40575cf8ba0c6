import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import {
  admissionGate,
  keepConnected,
  nextDelay,
  RECONNECT_FLOOR_MS,
} from "../../src/xmpp/index.js";

describe("nextDelay: exponential backoff with full jitter", () => {
  it("spans the whole range from the floor to the ceiling", () => {
    expect(nextDelay(3, 500, 30_000, () => 0)).toBe(RECONNECT_FLOOR_MS);
    expect(nextDelay(3, 500, 30_000, () => 1)).toBe(4000);
    // Half of the ceiling or less is reachable: not only its upper half.
    expect(nextDelay(3, 500, 30_000, () => 0.25)).toBeLessThan(2000);
  });

  it("doubles the ceiling per attempt up to maxDelayMs", () => {
    const top = (attempt: number) => nextDelay(attempt, 500, 30_000, () => 1);
    expect([0, 1, 2, 5, 6, 7, 40].map(top)).toEqual([
      500, 1000, 2000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it("never waits less than the floor, even with a tiny minimum", () => {
    expect(nextDelay(0, 10, 30_000, () => 0.5)).toBe(RECONNECT_FLOOR_MS);
    for (let i = 0; i < 1000; i++) {
      const d = nextDelay(i % 12, 500, 30_000);
      expect(d).toBeGreaterThanOrEqual(RECONNECT_FLOOR_MS);
      expect(d).toBeLessThanOrEqual(30_000);
    }
  });

  it("spreads a fleet's reconnects over the ceiling (no bunching in the upper half)", () => {
    const delays = Array.from({ length: 10_000 }, () => nextDelay(10, 500, 30_000));
    const lowerHalf = delays.filter((d) => d < 15_000).length;
    expect(lowerHalf).toBeGreaterThan(4000);
    expect(lowerHalf).toBeLessThan(6000);
  });
});

/** A connection that comes online 20 ms after start(), counting the starts in progress. */
class SlowConnection extends EventEmitter {
  status = "offline";
  static inProgress = 0;
  static most = 0;
  async start() {
    SlowConnection.inProgress += 1;
    SlowConnection.most = Math.max(SlowConnection.most, SlowConnection.inProgress);
    await new Promise((r) => setTimeout(r, 20));
    SlowConnection.inProgress -= 1;
    this.status = "online";
    this.emit("online");
  }
  async stop() {
    this.status = "offline";
  }
}

describe("keepConnected's admission", () => {
  it("holds attempts beyond the gate's limit until one ends, and brings every connection online", async () => {
    const admit = admissionGate(2);
    const keepers = Array.from({ length: 6 }, () =>
      keepConnected(new SlowConnection(), { log: silentLogger(), admit }),
    );
    await Promise.all(keepers.map((k) => k.firstOnline));
    expect(SlowConnection.most).toBe(2);
    await Promise.all(keepers.map((k) => k.stop()));
  });
});
