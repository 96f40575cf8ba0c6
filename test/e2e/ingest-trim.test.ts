import { beforeAll, describe, expect, it } from "vitest";
import { INGEST_SHARDS, Keys, type Redis } from "../../src/store/index.js";
import { eventXml, publishEntry } from "../helpers/ingest.js";
import { useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const stack = useStack("trim");
let redis: Redis;
let keys: Keys;
const jids = ["trim1@localhost", "trim2@localhost", "trim3@localhost", "trim4@localhost"];

beforeAll(async () => {
  redis = stack.redis();
  keys = new Keys(stack.prefix);
});

const processed = async () =>
  Promise.all(jids.map(async (j) => Number((await redis.hget(keys.host(j), "processedSeq")) ?? 0)));
const streamLength = async () => {
  let total = 0;
  for (let shard = 0; shard < INGEST_SHARDS; shard++) total += await redis.xlen(keys.ingest(shard));
  return total;
};

describe("the ingest streams", () => {
  it("are trimmed of processed entries, and entries not yet read survive a trim", async () => {
    let component = await stack.startComponent();
    for (let seq = 1; seq <= 25; seq++)
      await Promise.all(jids.map((j) => publishEntry(redis, stack.prefix, j, seq, eventXml(seq))));
    await waitFor(async () => (await processed()).every((n) => n === 25), {
      timeoutMs: 15_000,
      what: "processing",
    });
    expect(await streamLength()).toBe(100);

    const removed = await component.monitor.ingest.trimProcessed();
    expect(removed).toBeGreaterThanOrEqual(100 - jids.length);
    // At most the last delivered entry of each stream stays.
    expect(await streamLength()).toBeLessThanOrEqual(jids.length);

    // Written while no monitor runs: unread, so a trim must keep them.
    await component.stop();
    for (let seq = 26; seq <= 35; seq++)
      await Promise.all(jids.map((j) => publishEntry(redis, stack.prefix, j, seq, eventXml(seq))));
    component = await stack.startComponent();
    await component.monitor.ingest.trimProcessed();
    await waitFor(async () => (await processed()).every((n) => n === 35), {
      timeoutMs: 20_000,
      what: "the rest",
    });
  }, 60_000);
});
