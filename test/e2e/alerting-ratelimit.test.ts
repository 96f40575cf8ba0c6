/**
 * The per-receiver rate limit of the alerting policy, on real Redis (no XMPP
 * needed: the gate's deliveries are collected): over the limit in a minute,
 * the rest come as one summary in the next minute.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import { AlertGate, DEFAULT_ALERTING } from "../../src/monitor/alerting/index.js";
import type { AlertRecord } from "../../src/monitor/index.js";
import { createRedis, deletePrefix, Keys } from "../../src/store/index.js";
import { REDIS_URL } from "../helpers/stack.js";

const prefix = `jabmon-test-ratelimit:${randomUUID()}:`;
const redis = createRedis(REDIS_URL, silentLogger());
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const alert = (i: number): AlertRecord => ({
  id: randomUUID(),
  kind: "check",
  jid: `rl${i}@localhost`,
  host: `rl${i}`,
  check: "http",
  state: "critical",
  previous: "ok",
  text: "refused",
  time: Date.now(),
  num: i + 1,
});

describe("rate limit", () => {
  it("sends a receiver at most the limit per minute, and the rest as one summary after", async () => {
    let clock = Date.parse("2026-12-02T10:00:05Z");
    const gate = new AlertGate({
      redis,
      keys: new Keys(prefix),
      log: silentLogger(),
      settings: { ...DEFAULT_ALERTING, rateLimitPerMinute: 3, tickMs: 60_000 },
      outboxMax: 1000,
      now: () => clock,
    });
    const delivered: string[] = [];
    gate.start(async (_alert, message) => {
      delivered.push(message);
    });
    try {
      for (let i = 0; i < 10; i++) {
        const decision = await gate.admit(alert(i));
        expect(decision?.suppressed).toBe("routed");
      }
      expect(delivered).toHaveLength(3);
      await gate.tick(); // same minute: nothing more
      expect(delivered).toHaveLength(3);
      clock += 60_000;
      await gate.tick();
      expect(delivered).toHaveLength(4);
      expect(delivered[3]).toMatch(
        /^RATE LIMITED: 7 more alerts this minute \(limit 3\/min; 7 problems, 0 recoveries\): rl3, rl4/,
      );
      await gate.tick(); // the summary is sent once
      expect(delivered).toHaveLength(4);
    } finally {
      await gate.stop();
    }
  });
});
