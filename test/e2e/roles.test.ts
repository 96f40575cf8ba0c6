/**
 * The work split across processes (docs/deploy.md, "Process roles"): one
 * `xmpp` front, two `ingest` processes and one `http` status server, as child
 * processes of the real CLI on a real ejabberd and Redis. Agents publish
 * through the front; the ingest processes hold the shards and process every
 * result once and in order; alerts raised on Redis reach the admin through
 * the front; a killed ingest process's shards move to the other.
 */
import type { ChildProcess } from "node:child_process";
import { type Client, xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import { HostStore, INGEST_SHARDS, ingestShard, Keys, type Redis } from "../../src/store/index.js";
import { available, errorOf, iq, NS_JABMON, publishIq } from "../helpers/pubsub.js";
import { type Account, hostsFrom, useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

type Child = ChildProcess & { output: () => string };

const stack = useStack("roles");
let redis: Redis;
let keys: Keys;
let front: Child;
let ingest: Child[];
let httpUrl: string;
let admin: Client;
const adminMessages: string[] = [];

function spawnRole(role: string, how: "flag" | "env", extra: Record<string, string> = {}): Child {
  const env = stack.componentEnv({
    JABMON_LOG_LEVEL: "info",
    JABMON_AGENT_DOMAINS: stack.domain,
    ...(how === "env" ? { JABMON_ROLE: role } : {}),
    ...extra,
  });
  // A process without a link needs no component secret (and should not hold it).
  if (role === "ingest" || role === "http") delete env.JABMON_COMPONENT_PASSWORD;
  return stack.spawnCli(["component", ...(how === "flag" ? ["--role", role] : [])], env);
}

async function leaseHolders(): Promise<Array<string | null>> {
  return Promise.all(
    Array.from({ length: INGEST_SHARDS }, (_, s) => redis.get(keys.monitorLease(s))),
  );
}

/** The pid of each instance holding a shard lease (instances register their pid). */
async function holderPids(): Promise<Map<string, number>> {
  const info = await redis.hgetall(keys.monitorInstanceInfo());
  const pids = new Map<string, number>();
  for (const id of new Set(await leaseHolders()))
    if (id) pids.set(id, (JSON.parse(info[id] ?? "{}") as { pid: number }).pid);
  return pids;
}

const eventItem = (seq: number) =>
  xml(
    "event",
    {
      xmlns: NS_JABMON,
      seq: String(seq),
      time: new Date().toISOString(),
      type: "message",
      severity: "info",
    },
    xml("text", {}, `event ${seq}`),
  );

/** Seqs of the events stored for an agent, oldest first. */
async function storedSeqs(jid: string): Promise<number[]> {
  const rows = await redis.lrange(keys.events(jid), 0, -1);
  return rows.map((r) => (JSON.parse(r) as { seq: number }).seq).reverse();
}

const processedSeq = async (jid: string) =>
  Number((await redis.hget(keys.host(jid), "processedSeq")) ?? 0);

interface Agent {
  account: Account;
  client: Client;
}

/** An agent online with its status presence sent to the component (so it is a known host). */
async function agent(name: string): Promise<Agent> {
  const account = await stack.account(name);
  const client = await stack.client(account);
  await available(client);
  await client.send(
    xml(
      "presence",
      { to: stack.componentJid },
      xml("x", { xmlns: NS_JABMON, host: `${name}.example`, state: "ok", version: "test" }),
    ),
  );
  return { account, client };
}

async function publish(a: Agent, payload: ReturnType<typeof xml>): Promise<void> {
  const reply = await iq(
    a.client,
    stack.componentJid,
    "set",
    publishIq(`agents/${a.account.jid}`, payload),
  );
  expect(errorOf(reply)).toBeUndefined();
}

beforeAll(async () => {
  redis = stack.redis();
  keys = new Keys(stack.prefix);
  const adminAccount = await stack.account("rolesadmin");
  admin = await stack.client(adminAccount);
  admin.on("stanza", (stanza) => {
    const body = stanza.is("message") ? stanza.getChildText("body") : null;
    if (body) adminMessages.push(body);
  });
  await available(admin);

  front = spawnRole("xmpp", "flag", { JABMON_ALERT_ADMINS: adminAccount.jid });
  ingest = [spawnRole("ingest", "env"), spawnRole("ingest", "flag")];
  const http = spawnRole("http", "flag");
  httpUrl = await waitFor(() => /"url":"(http:\/\/[^"]+)"/.exec(http.output())?.[1], {
    timeoutMs: 20_000,
    what: `the http process's address: ${http.output()}`,
  });
  await waitFor(
    async () => (await holderPids()).size === 2 && (await leaseHolders()).every(Boolean),
    {
      timeoutMs: 20_000,
      what: "the two ingest processes holding every shard",
    },
  );
}, 120_000);

describe("one xmpp front and two ingest processes", () => {
  it("leaves the shards to the ingest processes: the front holds none", async () => {
    const pids = [...(await holderPids()).values()].sort();
    expect(pids).toEqual([ingest[0]?.pid, ingest[1]?.pid].sort());
    expect(pids).not.toContain(front.pid);
    // Each ingest process gets its fair share: half of the shards (the first
    // to start took them all and hands some over).
    await waitFor(
      async () => {
        const held = await leaseHolders();
        return [...new Set(held)].every((id) => held.filter((h) => h === id).length === 8);
      },
      { timeoutMs: 15_000, what: "8 shards held by each ingest process" },
    );
    expect(await redis.zcard(keys.monitorInstances())).toBe(2);
  });

  it("processes every agent's results once and in order, on both ingest processes", async () => {
    const holders = await leaseHolders();
    // Agents on shards of both processes: two per holder at least.
    const agents: Agent[] = [];
    const perHolder = new Map<string, number>();
    for (let i = 0; agents.length < 6 && i < 100; i++) {
      const name = `agent-r${i}`;
      const holder = holders[ingestShard(`${name}@${stack.domain}`)] as string;
      if ((perHolder.get(holder) ?? 0) >= 3) continue;
      perHolder.set(holder, (perHolder.get(holder) ?? 0) + 1);
      agents.push(await agent(name));
    }
    expect([...perHolder.values()]).toEqual([3, 3]);

    const perAgent = 30;
    await Promise.all(
      agents.map(async (a) => {
        for (let seq = 1; seq <= perAgent; seq++) await publish(a, eventItem(seq));
      }),
    );
    const jids = agents.map((a) => a.account.jid);
    await waitFor(
      async () => (await Promise.all(jids.map(processedSeq))).every((n) => n === perAgent),
      { timeoutMs: 20_000, what: "every agent's results processed" },
    );
    await sleep(500);
    const expected = Array.from({ length: perAgent }, (_, i) => i + 1);
    for (const jid of jids) {
      expect(await storedSeqs(jid)).toEqual(expected);
      expect(await redis.hmget(keys.host(jid), "processedCount", "seqGaps")).toEqual([
        String(perAgent),
        null,
      ]);
    }
  });

  it("delivers an alert raised by an ingest process through the front", async () => {
    const a = await agent("agent-ralert");
    await publish(
      a,
      xml("check", {
        xmlns: NS_JABMON,
        seq: "1",
        time: new Date().toISOString(),
        name: "rolesdisk",
        state: "critical",
      }),
    );
    await waitFor(() => adminMessages.some((m) => m.includes("rolesdisk")), {
      timeoutMs: 15_000,
      what: `the admin's alert message (got ${JSON.stringify(adminMessages)})`,
    });
  });

  it("notices a stale host's return from its publishes, though the front runs no ingest", async () => {
    const a = await agent("agent-rstale");
    const jid = a.account.jid;
    await waitFor(async () => (await new HostStore(redis, keys).get(jid))?.online, {
      what: "the host online",
    });
    // As the stale sweep would: the host fell silent and was marked down.
    expect(await new HostStore(redis, keys).markStaleOffline(jid, Date.now() + 1, "stale")).toBe(
      true,
    );
    await publish(a, eventItem(1));
    await waitFor(async () => (await new HostStore(redis, keys).get(jid))?.online, {
      timeoutMs: 10_000,
      what: "the stale host back online after its publish",
    });
  });

  it("serves the status page from the http process, with no link of its own", async () => {
    const hosts = await hostsFrom(httpUrl);
    expect(hosts.map((h) => h.jid)).toContain(`agent-r0@${stack.domain}`);
    const health = await fetch(`${httpUrl}/healthz`);
    expect(await health.json()).toEqual({ ok: true, xmpp: true, redis: true });
    const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/jabmon_queue_depth\{queue="ingest"\} \d+/);
  });

  it("moves a killed ingest process's shards to the other, which processes what follows", async () => {
    const pids = await holderPids();
    const [victimId] = [...pids.entries()].find(([, pid]) => pid === ingest[0]?.pid) ?? [];
    expect(victimId).toBeDefined();
    const victimShards = (await leaseHolders())
      .map((h, s) => (h === victimId ? s : -1))
      .filter((s) => s >= 0);
    // An agent on one of the victim's shards.
    let name = "";
    for (let i = 0; !name; i++)
      if (victimShards.includes(ingestShard(`agent-k${i}@${stack.domain}`))) name = `agent-k${i}`;
    const a = await agent(name);

    const killedAt = Date.now();
    ingest[0]?.kill("SIGKILL");
    for (let seq = 1; seq <= 5; seq++) await publish(a, eventItem(seq));
    await waitFor(async () => (await processedSeq(a.account.jid)) === 5, {
      timeoutMs: 15_000,
      what: "the agent's results processed by the surviving ingest process",
    });
    const survivorId = [...pids.keys()].find((id) => id !== victimId);
    expect(new Set(await leaseHolders())).toEqual(new Set([survivorId]));
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(await storedSeqs(a.account.jid)).toEqual([1, 2, 3, 4, 5]);
  });
});
