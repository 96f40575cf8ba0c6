/**
 * The agent's backlog replay in `<results/>` requests (docs/agent.md,
 * "Backlogs"; docs/protocol.md, "Replaying a backlog"), through a real
 * ejabberd, component and Redis, with the real agent code in this process:
 * results spooled while the agent could not reach its server go several per
 * request, each stored once and in order; results the service refuses inside
 * a request as seq-regressed are re-seeded and stored, none lost.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentSchema, type RunningAgent, startAgent } from "../../src/agent/index.js";
import { silentLogger } from "../../src/log/index.js";
import { decodeIngestEntry } from "../../src/monitor/ingest/consumer.js";
import { freePort } from "../../src/stack/index.js";
import { ingestShard, Keys, type Redis } from "../../src/store/index.js";
import { publishStraySeq } from "../helpers/pubsub.js";
import { type Account, useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const stack = useStack("agent-backlog");
let redis: Redis;
let keys: Keys;
let spoolRoot: string;

beforeAll(async () => {
  await stack.startComponent({
    monitor: { agentDomains: [stack.domain], agents: ["agent-*@localhost"] },
  });
  redis = stack.redis();
  keys = new Keys(stack.prefix);
  spoolRoot = mkdtempSync(join(tmpdir(), "jabmon-agent-backlog-"));
});
afterAll(() => rmSync(spoolRoot, { recursive: true, force: true }));

/** The real agent in this process; `service` may be a port nothing listens on (offline). */
function agent(account: Account, service: string): Promise<RunningAgent> {
  const parsed = agentSchema.safeParse({
    xmpp: {
      service,
      jid: account.jid,
      password: account.password,
      component: stack.componentJid,
      ...(stack.caFile ? { caFile: stack.caFile } : {}),
      reconnectMaxDelayMs: 1000,
    },
    host: account.user,
    interval: 3600,
    checks: [],
    spool: { dir: join(spoolRoot, account.user) },
    socket: { enabled: false },
    publish: { timeoutMs: 10_000 },
  });
  if (!parsed.success) throw new Error(`agent config: ${JSON.stringify(parsed.error.issues)}`);
  return startAgent(parsed.data, silentLogger());
}

/** Results spooled by an agent that cannot reach its server, then the agent stopped. */
async function spoolOffline(account: Account, count: number): Promise<number[]> {
  const offline = await agent(account, `xmpp://127.0.0.1:${await freePort()}`);
  const seqs: number[] = [];
  for (let n = 0; n < count; n++)
    seqs.push(offline.record({ kind: "event", type: "message", severity: "info", text: `b${n}` }));
  await offline.stop();
  return seqs;
}

async function ingested(jid: string) {
  const entries = await redis.xrange(keys.ingest(ingestShard(jid)), "-", "+");
  return entries
    .map(([id, fields]) => decodeIngestEntry(id, fields))
    .filter((e) => e.node === `agents/${jid}`);
}

const texts = (entries: Awaited<ReturnType<typeof ingested>>) =>
  entries
    .map((e) => /<text>([^<]*)<\/text>/.exec(e.payload)?.[1])
    .filter((t) => t?.startsWith("b"));

/** The agent's ingest entries once at least `count` of its numbered results are there. */
const ingestedAtLeast = (jid: string, count: number, what: string) =>
  waitFor(
    async () => {
      const all = await ingested(jid);
      return texts(all).length >= count ? all : undefined;
    },
    { timeoutMs: 10_000, what },
  );

describe("an agent back with a backlog", () => {
  it("replays it in <results/> requests, each result stored once, in order", async () => {
    const account = await stack.account();
    const seqs = await spoolOffline(account, 120);
    const back = await agent(account, stack.ejabberd.c2sService);
    try {
      expect(await back.drained(20_000)).toBe(true);
      // 120 results of at most 50 per request: 3 requests, no publish needed.
      expect(back.stats.batches).toBe(3);
      expect(back.stats.acked).toBe(120);
      const entries = await ingestedAtLeast(account.jid, 120, "every result ingested");
      expect(entries.map((e) => e.agentSeq).filter((s) => s !== undefined && s >= seqs[0])).toEqual(
        seqs,
      );
      expect(texts(entries)).toEqual(seqs.map((_, n) => `b${n}`));
    } finally {
      await back.stop();
    }
  });

  it("re-seeds results refused as seq-regressed inside a request and loses none", async () => {
    const account = await stack.account();
    const seqs = await spoolOffline(account, 30);
    // Once, a seq far in the future (a clock wildly ahead): the agent's are far below it.
    const stray = await publishStraySeq(stack, account);

    const back = await agent(account, stack.ejabberd.c2sService);
    try {
      expect(await back.drained(20_000)).toBe(true);
      expect(back.stats.reseeded).toBe(30);
      // The refused request, then the re-seeded results in one more.
      expect(back.stats.batches).toBe(2);
      const entries = await ingestedAtLeast(account.jid, 30, "every re-seeded result ingested");
      expect(texts(entries)).toEqual(seqs.map((_, n) => `b${n}`));
      const backlog = entries.filter((e) => e.agentSeq !== stray);
      for (const e of backlog) expect(e.agentSeq).toBeGreaterThan(stray);
    } finally {
      await back.stop();
    }
  });
});
