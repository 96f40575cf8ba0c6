/**
 * A Redis outage under load: the component keeps a bounded queue of commands
 * for it, refuses publishes with a wait-type error instead of holding them,
 * and once Redis is back every result an agent spooled meanwhile is stored
 * exactly once. Redis here is a private redis-server (append-only, fsync
 * always) so the test can stop and restart it with its data.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import { PubsubStore } from "../../src/pubsub/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { createRedis, Keys } from "../../src/store/index.js";
import { type Element, ltx } from "../../src/xmpp/index.js";
import { sendRange, socketUp } from "../helpers/agent-socket.js";
import { check, errorOf, iq, publishIq } from "../helpers/pubsub.js";
import { freePort, useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const OFFLINE_QUEUE_MAX = 200;

class PrivateRedis {
  #child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async create(): Promise<PrivateRedis> {
    return new PrivateRedis(await freePort(), await mkdtemp(join(tmpdir(), "jabmon-redis-")));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.#child = child;
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await waitFor(() => out.includes("Ready to accept connections"), {
      timeoutMs: 15_000,
      what: `redis-server on ${this.port} (${out.slice(-300)})`,
    });
  }

  /** SIGTERM: redis-server flushes its append-only file and exits. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    child.kill("SIGTERM");
    await once(child, "exit");
  }

  async destroy(): Promise<void> {
    if (this.#child?.exitCode === null) this.#child.kill("SIGKILL");
    await rm(this.dir, { recursive: true, force: true });
  }
}

let redis: PrivateRedis;
let component: RunningComponent;
// Registered before the stack, so it runs after the stack's cleanup has stopped the component.
afterAll(async () => {
  await redis?.destroy();
});
const stack = useStack("redis-outage");

beforeAll(async () => {
  redis = await PrivateRedis.create();
  await redis.start();
  component = await stack.startComponent({
    redis: { url: redis.url, prefix: stack.prefix, offlineQueueMax: OFFLINE_QUEUE_MAX },
  });
}, 60_000);

/** The stored payloads of `agents/<jid>`, in node order. */
async function stored(jid: string): Promise<Element[]> {
  const store = new PubsubStore(component.redis, new Keys(stack.prefix));
  const node = `agents/${jid}`;
  const items = await store.itemsByIds(node, await store.itemIds(node));
  return items.sort((a, b) => a.seq - b.seq).map((item) => ltx.parse(item.payload) as Element);
}

const numbers = (items: Element[]) =>
  items
    .map((e) => /^n=(\d+)$/.exec(e.getChildText("text") ?? "")?.[1])
    .filter((n): n is string => n !== undefined && n !== "0")
    .map(Number);

describe("a Redis outage", () => {
  it("bounds the component's queue, refuses publishes with a wait error, and then stores every spooled result once", async () => {
    const account = await stack.account("outage-agent");
    const dir = stack.agentDir(account);
    await mkdir(dir, { recursive: true });
    const config = join(dir, "agent.yml");
    await writeFile(
      config,
      "checks: []\nxmpp: { reconnectMaxDelayMs: 1000 }\npublish: { timeoutMs: 3000 }\n",
    );
    const env = stack.agentEnv(account);
    stack.spawnCli(["agent", "-c", config], env);
    const socket = env.JABMON_AGENT_SOCKET as string;
    await socketUp(socket);
    await sendRange(socket, 1, 50);
    await waitFor(async () => numbers(await stored(account.jid)).length >= 50, {
      timeoutMs: 60_000,
      what: "the first 50 results stored",
    });

    await redis.stop();
    await waitFor(() => !component.redis.ready, { what: "the component to see Redis gone" });

    // The agent keeps recording: its results wait in its spool.
    await sendRange(socket, 51, 150);

    // A publisher is answered at once with a wait-type error, not held.
    const client = await stack.client();
    client.setMaxListeners(400);
    const node = `agents/${client.jid?.bare().toString()}`;
    const replies = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        iq(client, stack.componentJid, "set", publishIq(node, check(i + 1))),
      ),
    );
    for (const reply of replies) {
      expect(errorOf(reply)?.[0]).toBe("resource-constraint");
      expect(reply.getChild("error")?.attrs.type).toBe("wait");
    }

    // Whatever else asks Redis for something waits in a bounded queue; the rest is refused at once.
    const others = await Promise.all(
      Array.from({ length: 3 * OFFLINE_QUEUE_MAX }, (_, i) => {
        const asked = component.redis.get(`${stack.prefix}probe:${i}`).then(
          () => "done",
          (err: Error) => err.name,
        );
        return Promise.race([asked, new Promise((r) => setImmediate(() => r("queued")))]);
      }),
    );
    expect(component.redis.queued).toBeLessThanOrEqual(OFFLINE_QUEUE_MAX);
    expect(others.filter((o) => o === "RedisUnavailableError").length).toBeGreaterThanOrEqual(
      2 * OFFLINE_QUEUE_MAX,
    );
    expect(component.redis.refused).toBeGreaterThanOrEqual(2 * OFFLINE_QUEUE_MAX);

    await redis.start();
    await sendRange(socket, 151, 200);
    const items = await waitFor(
      async () => {
        const now = await stored(account.jid);
        return numbers(now).length >= 200 ? now : undefined;
      },
      { timeoutMs: 120_000, what: "all 200 results stored" },
    );
    // Each once, in order.
    expect(numbers(items)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const seqs = items.map((e) => Number(e.attrs.seq));
    expect(new Set(seqs).size).toBe(seqs.length);
    const store = new PubsubStore(component.redis, new Keys(stack.prefix));
    // The node's counter counts stores: a replay acknowledged as a duplicate is not one.
    expect((await store.node(`agents/${account.jid}`))?.seq).toBe(items.length);
  }, 240_000);

  it("keeps or refuses a pipeline and a MULTI whole, so none is left half-sent", async () => {
    const client = createRedis(redis.url, silentLogger(), { offlineQueueMax: 5 });
    const key = `${stack.prefix}multi`;
    try {
      await client.ping();
      await redis.stop();
      await waitFor(() => !client.ready, { what: "the client to see Redis gone" });
      // Fits (4 commands with MULTI/EXEC): kept whole, runs after the restart.
      const kept = client.multi().incr(key).incr(key).exec();
      // The queue is at 4: two more fit, and the rest of this pipeline comes along with them.
      const pipelined = client.pipeline().incr(key).incr(key).incr(key).exec();
      const refused = client.pipeline().incr(key).incr(key).incr(key).exec();
      const refusedReplies = await refused;
      expect(refusedReplies?.map(([err]) => err?.name)).toEqual(
        Array(3).fill("RedisUnavailableError"),
      );
      await redis.start();
      expect((await kept)?.map(([, v]) => v)).toEqual([1, 2]);
      expect((await pipelined)?.map(([, v]) => v)).toEqual([3, 4, 5]);
      expect(await client.get(key)).toBe("5");
    } finally {
      client.disconnect();
    }
  }, 60_000);
});
