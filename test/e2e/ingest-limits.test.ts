/**
 * Bounded storage (issue 18 item 13): names and timestamps are the agents' to
 * choose, so checks, metric series and samples per result are bounded, and a
 * time far ahead of the server's clock is replaced by the server's; every drop
 * is counted by reason, never silent.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { limitsDroppedKey } from "../../src/monitor/ingest/apply.js";
import { Keys, type Redis } from "../../src/store/index.js";
import { checkXml, publishEntry } from "../helpers/ingest.js";
import { useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const stack = useStack("limits");
let redis: Redis;
let keys: Keys;

beforeAll(async () => {
  redis = stack.redis();
  keys = new Keys(stack.prefix);
  await stack.startComponent({
    monitor: {
      agentDomains: [stack.domain],
      limits: {
        maxChecksPerHost: 3,
        maxSeriesPerHost: 4,
        maxMetricsPerResult: 3,
        maxNameLength: 20,
        maxClockAheadMs: 60_000,
      },
    },
  });
});

const processedSeq = async (jid: string) =>
  Number((await redis.hget(keys.host(jid), "processedSeq")) ?? 0);
const dropped = async () => redis.hgetall(limitsDroppedKey(keys));

describe("store limits", () => {
  it("keeps at most maxChecksPerHost checks, and still updates the known ones", async () => {
    const jid = "manychecks@localhost";
    for (let seq = 1; seq <= 5; seq++)
      await publishEntry(redis, stack.prefix, jid, seq, checkXml(seq, `check${seq}`, "ok"));
    await publishEntry(redis, stack.prefix, jid, 6, checkXml(6, "check1", "critical"));
    await waitFor(async () => (await processedSeq(jid)) === 6, { what: "processing" });
    expect(Object.keys(await redis.hgetall(keys.checks(jid))).sort()).toEqual([
      "check1",
      "check2",
      "check3",
    ]);
    expect(await redis.hget(keys.checks(jid), "check1")).toBe("critical");
    expect(await redis.exists(keys.check(jid, "check4"))).toBe(0);
    expect((await dropped())["too-many-checks"]).toBe("2");
  });

  it("keeps at most maxMetricsPerResult samples of one result and maxSeriesPerHost series", async () => {
    const jid = "manyseries@localhost";
    const metrics = (names: string[]) => names.map((name, i) => ({ name, value: i + 1 }));
    await publishEntry(
      redis,
      stack.prefix,
      jid,
      1,
      checkXml(1, "a", "ok", "a", metrics(["m1", "m2", "m3", "m4", "m5"])),
    );
    await publishEntry(
      redis,
      stack.prefix,
      jid,
      2,
      checkXml(2, "b", "ok", "b", metrics(["m1", "m2"])),
    );
    await publishEntry(
      redis,
      stack.prefix,
      jid,
      3,
      // Another value than result 1's: a sample is "time:value", and both may share a millisecond.
      checkXml(3, "a", "ok", "a", [
        { name: "m1", value: 7 },
        { name: "x".repeat(21), value: 2 },
      ]),
    );
    await waitFor(async () => (await processedSeq(jid)) === 3, { what: "processing" });
    expect((await redis.smembers(keys.metricSeries(jid))).sort()).toEqual([
      "a/m1",
      "a/m2",
      "a/m3",
      "b/m1",
    ]);
    // A known series still gets its samples.
    expect(await redis.zcard(keys.metricRaw(jid, "a/m1"))).toBe(2);
    const counts = await dropped();
    expect(counts["too-many-metrics"]).toBe("2");
    expect(counts["too-many-series"]).toBe("1");
    expect(counts["name-too-long"]).toBe("1");
  });

  it("replaces a time far ahead of the server's clock by the server's, so the sample ages out", async () => {
    const jid = "future@localhost";
    const future = new Date(Date.now() + 10 * 365 * 86_400_000).toISOString();
    const xml = checkXml(1, "clock", "ok", "clock", [{ name: "v", value: 1 }]).replace(
      /time="[^"]+"/,
      `time="${future}"`,
    );
    const before = Date.now();
    await publishEntry(redis, stack.prefix, jid, 1, xml);
    await waitFor(async () => (await processedSeq(jid)) === 1, { what: "processing" });
    const lastResult = Number(await redis.hget(keys.check(jid, "clock"), "lastResult"));
    expect(lastResult).toBeGreaterThanOrEqual(before);
    expect(lastResult).toBeLessThanOrEqual(Date.now());
    const [, score] = await redis.zrange(keys.metricRaw(jid, "clock/v"), 0, 0, "WITHSCORES");
    expect(Number(score)).toBeLessThanOrEqual(Date.now());
    expect((await dropped())["time-ahead"]).toBe("1");
  });
});
