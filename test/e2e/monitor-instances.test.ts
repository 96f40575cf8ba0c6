/**
 * Ordered exactly-once processing across a component crash, and two monitor
 * instances sharing the fleet. The components run as child processes so that
 * they can be SIGKILLed mid-flow.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  INGEST_GROUP,
  INGEST_SHARDS,
  ingestShard,
  Keys,
  type Redis,
} from "../../src/store/index.js";
import { eventXml, publishEntry } from "../helpers/ingest.js";
import { REDIS_URL, useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const stack = useStack("instances");
let redis: Redis;

beforeAll(async () => {
  redis = stack.redis();
});

function spawnComponent(prefix: string) {
  return stack.spawnCli(["component"], {
    ...process.env,
    JABMON_LOG_LEVEL: process.env.JABMON_TEST_LOG_LEVEL ?? "warn",
    JABMON_COMPONENT_SERVICE: stack.ejabberd.componentService,
    JABMON_COMPONENT_JID: stack.componentJid,
    JABMON_COMPONENT_PASSWORD: stack.ejabberd.config.componentPassword,
    JABMON_REDIS_URL: REDIS_URL,
    JABMON_REDIS_PREFIX: prefix,
    JABMON_HTTP_PORT: "0",
    JABMON_AGENT_DOMAINS: stack.domain,
  });
}

async function leaseHolders(keys: Keys): Promise<Array<string | null>> {
  return Promise.all(
    Array.from({ length: INGEST_SHARDS }, (_, s) => redis.get(keys.monitorLease(s))),
  );
}

async function processed(keys: Keys, jids: string[]): Promise<number[]> {
  return Promise.all(
    jids.map(async (j) => Number((await redis.hget(keys.host(j), "processedSeq")) ?? 0)),
  );
}

/** Seqs of the events stored for an agent, oldest first. */
async function storedSeqs(keys: Keys, jid: string): Promise<number[]> {
  const rows = await redis.lrange(keys.events(jid), 0, -1);
  return rows.map((r) => (JSON.parse(r) as { seq: number }).seq).reverse();
}

describe("ordered, exactly-once processing", () => {
  it("processes no item twice and skips none when the component is killed while 10 agents publish", async () => {
    const prefix = `${stack.prefix}restart:`;
    const keys = new Keys(prefix);
    const jids = Array.from({ length: 10 }, (_, i) => `flow${i}@localhost`);
    const perAgent = 80;
    let first = spawnComponent(prefix);
    await waitFor(async () => (await leaseHolders(keys)).every(Boolean), {
      timeoutMs: 15_000,
      what: "the first component to hold every shard",
    });

    const producer = (async () => {
      for (let seq = 1; seq <= perAgent; seq++) {
        await Promise.all(jids.map((jid) => publishEntry(redis, prefix, jid, seq, eventXml(seq))));
        await sleep(40);
      }
    })();
    await waitFor(async () => (await processed(keys, jids)).some((n) => n >= 20), {
      timeoutMs: 10_000,
    });
    first.kill("SIGKILL");
    const atKill = await processed(keys, jids);
    expect(Math.min(...atKill)).toBeLessThan(perAgent);
    first = spawnComponent(prefix);
    await producer;
    // A redelivered entry (same nodeSeq) is skipped.
    await publishEntry(redis, prefix, jids[0] as string, 5, eventXml(5, "duplicate"));

    await waitFor(async () => (await processed(keys, jids)).every((n) => n === perAgent), {
      timeoutMs: 30_000,
      what: "every agent's items to be processed",
    });
    await sleep(500);
    const expected = Array.from({ length: perAgent }, (_, i) => i + 1);
    for (const jid of jids) {
      expect(await storedSeqs(keys, jid)).toEqual(expected);
      const state = await redis.hmget(keys.host(jid), "processedCount", "seqGaps");
      expect(state).toEqual([String(perAgent), null]);
    }
    const events = await redis.lrange(keys.events(jids[0] as string), 0, -1);
    expect(events.some((e) => e.includes("duplicate"))).toBe(false);
    first.kill("SIGKILL");
  });
});

describe("entries left pending by a former holder", () => {
  it("are claimed and processed by the instance that holds the shard now", async () => {
    const prefix = `${stack.prefix}ghost:`;
    const keys = new Keys(prefix);
    const component = spawnComponent(prefix);
    await waitFor(async () => (await leaseHolders(keys)).every(Boolean), {
      timeoutMs: 20_000,
      what: "the instance holding every shard",
    });
    await sleep(1500); // past the hand-over wait: the instance reads every shard
    // A former holder's read that spanned the hand-over: the entry is delivered
    // to it (XADD and its read in one transaction, so the live instance's
    // blocked read cannot get it first), and it never commits.
    const jid = "ghost1@localhost";
    const stream = keys.ingest(ingestShard(jid));
    const entry = eventXml(1, "read by a former holder");
    const [, [, delivered]] = (await redis
      .multi()
      .xadd(
        stream,
        "*",
        "node",
        `agents/${jid}`,
        "owner",
        jid,
        "nodeSeq",
        "1",
        "agentSeq",
        "1",
        "itemId",
        "i1",
        "payload",
        entry,
        "publishedAt",
        String(Date.now()),
      )
      .xreadgroup("GROUP", INGEST_GROUP, "former-holder", "COUNT", 10, "STREAMS", stream, ">")
      .exec()) as [unknown, [null, Array<[string, unknown[]]>]];
    expect(delivered[0]?.[1]).toHaveLength(1);
    await waitFor(async () => (await processed(keys, [jid]))[0] === 1, {
      timeoutMs: 10_000,
      what: "the abandoned entry processed",
    });
    expect(await storedSeqs(keys, jid)).toEqual([1]);
    component.kill("SIGKILL");
  });
});

describe("several monitor instances", () => {
  it("share the shards, and when one is killed the other carries on with all agents within 10 s", async () => {
    const prefix = `${stack.prefix}pair:`;
    const keys = new Keys(prefix);
    const a = spawnComponent(prefix);
    const b = spawnComponent(prefix);
    const holders = await waitFor(
      async () => {
        const h = await leaseHolders(keys);
        return h.every(Boolean) && new Set(h).size === 2 ? h : undefined;
      },
      { timeoutMs: 20_000, what: "two instances holding all shards between them" },
    );
    // Agents spread over every shard, so each instance has some.
    const jids: string[] = [];
    for (let i = 0; jids.length < INGEST_SHARDS * 2; i++) {
      const jid = `pair${i}@localhost`;
      if (jids.filter((j) => ingestShard(j) === ingestShard(jid)).length < 2) jids.push(jid);
    }
    await Promise.all(jids.map((jid) => publishEntry(redis, prefix, jid, 1, eventXml(1))));
    await waitFor(async () => (await processed(keys, jids)).every((n) => n === 1), {
      timeoutMs: 10_000,
      what: "round 1",
    });

    // Kill the process holding shard 0.
    const victimId = holders[0] as string;
    const [victim, survivor] = await identify(prefix, victimId, a, b);
    const killedAt = Date.now();
    victim.kill("SIGKILL");
    await Promise.all(jids.map((jid) => publishEntry(redis, prefix, jid, 2, eventXml(2))));
    await waitFor(async () => (await processed(keys, jids)).every((n) => n === 2), {
      timeoutMs: 10_000,
      what: "every agent processed by the surviving instance",
    });
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    const after = await leaseHolders(keys);
    expect(new Set(after).size).toBe(1);
    expect(after[0]).not.toBe(victimId);
    for (const jid of jids) expect(await storedSeqs(keys, jid)).toEqual([1, 2]);
    survivor.kill("SIGKILL");
  });
});

/** Which child process runs the monitor instance `id` (instances register their pid). */
async function identify(
  prefix: string,
  id: string,
  a: ReturnType<typeof spawnComponent>,
  b: ReturnType<typeof spawnComponent>,
) {
  const raw = await redis.hget(new Keys(prefix).monitorInstanceInfo(), id);
  const { pid } = JSON.parse(raw ?? "{}") as { pid?: number };
  expect([a.pid, b.pid]).toContain(pid);
  return pid === a.pid ? ([a, b] as const) : ([b, a] as const);
}
