/**
 * The durable per-sink retry outbox on real Redis: an alert a sink refused is
 * retried until the sink takes it, exactly once even with two instances
 * retrying; one never taken within the retry period is dead-lettered and
 * counted.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import type { AlertSink } from "../../src/monitor/alerts/center.js";
import { RetryOutbox, retryDelay } from "../../src/monitor/alerts/outbox.js";
import type { AlertRecord } from "../../src/monitor/index.js";
import { createRedis, deletePrefix, Keys, type Redis } from "../../src/store/index.js";
import { REDIS_URL } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const prefix = `jabmon-test:${randomUUID()}:`;
let redis: Redis;
const keys = new Keys(prefix);

beforeAll(() => {
  redis = createRedis(REDIS_URL, silentLogger());
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const alert = (text: string): AlertRecord => ({
  id: randomUUID(),
  kind: "nagios",
  jid: "web01",
  host: "web01",
  check: "disk",
  state: "critical",
  previous: "",
  text,
  time: Date.now(),
});

/** A sink that refuses the first `failures` attempts per alert, then takes it. */
function flakySink(name: string, failures: number) {
  const attempts = new Map<string, number>();
  const taken: string[] = [];
  const sink: AlertSink = {
    name,
    async deliver(a) {
      const n = (attempts.get(a.id) ?? 0) + 1;
      attempts.set(a.id, n);
      if (n <= failures) throw new Error("link down");
      taken.push(a.id);
    },
  };
  return { sink, taken, attempts };
}

describe("the alert retry outbox", () => {
  it("backs off exponentially up to the cap", () => {
    const policy = { backoffMs: 100, maxBackoffMs: 1000, retryForMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, policy))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it("retries until the sink takes the alert, exactly once with two instances retrying", async () => {
    const flaky = flakySink("xmpp-a", 3);
    const policy = { backoffMs: 20, maxBackoffMs: 50, retryForMs: 60_000 };
    const one = new RetryOutbox({ redis, keys, log: silentLogger(), policy });
    const two = new RetryOutbox({ redis, keys, log: silentLogger(), policy });
    one.register(flaky.sink);
    two.register(flaky.sink);
    const a = alert("later");
    await one.defer("xmpp-a", a, "msg", "link down");
    expect(await one.pending("xmpp-a")).toBe(1);
    one.start(10);
    two.start(10);
    await waitFor(() => flaky.taken.length > 0, { timeoutMs: 10_000, what: "delivery" });
    await waitFor(async () => (await one.pending("xmpp-a")) === 0, { what: "outbox empty" });
    await new Promise((r) => setTimeout(r, 200));
    await one.stop();
    await two.stop();
    expect(flaky.taken).toEqual([a.id]);
    // Three refused retries and the one that was taken: no attempt twice at once.
    expect(flaky.attempts.get(a.id)).toBe(4);
  });

  it("dead-letters an alert not taken within the retry period, with a count", async () => {
    const never = flakySink("xmpp-b", Number.POSITIVE_INFINITY);
    const outbox = new RetryOutbox({
      redis,
      keys,
      log: silentLogger(),
      policy: { backoffMs: 20, maxBackoffMs: 50, retryForMs: 300 },
    });
    outbox.register(never.sink);
    const a = alert("never");
    await outbox.defer("xmpp-b", a, "msg", "link down");
    outbox.start(10);
    await waitFor(() => outbox.deadLettered.get("xmpp-b") === 1, {
      timeoutMs: 10_000,
      what: "dead letter",
    });
    await outbox.stop();
    expect(await outbox.pending("xmpp-b")).toBe(0);
    const [dead] = await redis.lrange(outbox.deadLetterKey("xmpp-b"), 0, -1);
    expect(JSON.parse(dead as string).alert.id).toBe(a.id);
    expect((await outbox.depths()).deadLetter).toBe(1);
    expect(never.taken).toEqual([]);
  });
});
