/**
 * Issue 18's HTTP lows: the Host allow list on loopback (DNS rebinding), and
 * the live stream's connection cap and back-pressure, on a real listening
 * server over the shared Redis.
 */
import { once } from "node:events";
import { connect } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpServer, HostIndex } from "../../src/http/index.js";
import { silentLogger } from "../../src/log/index.js";
import {
  createRedis,
  deletePrefix,
  type HostRecord,
  HostStore,
  Keys,
  type Redis,
} from "../../src/store/index.js";
import { REDIS_URL } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const prefix = `jabmon-test:${crypto.randomUUID()}:`;
let redis: Redis;
let index: HostIndex;
const apps: FastifyInstance[] = [];

async function build(
  access: { host: string; token?: string; allowedHosts?: string[] },
  streams?: { max?: number; bufferBytes?: number },
) {
  const app = await buildHttpServer({
    index,
    log: silentLogger(),
    access,
    health: async () => ({ xmpp: true, redis: true }),
    metrics: { xmppOnline: () => true, redisLatency: async () => 0.001 },
    ...(streams ? { streams } : {}),
  });
  apps.push(app);
  return app;
}

beforeAll(async () => {
  redis = createRedis(REDIS_URL, silentLogger());
  const keys = new Keys(prefix);
  const store = new HostStore(redis, keys);
  await store.recordPresence("a@localhost", "a@localhost/x", { host: "a", state: "ok" });
  index = new HostIndex({ store, redis, keys, log: silentLogger() });
  await index.start();
});
afterAll(async () => {
  for (const app of apps) await app.close();
  index?.stop();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

describe("the Host header on loopback", () => {
  it("answers loopback names and the allow list, and 421 to any other name", async () => {
    const app = await build({ host: "127.0.0.1", allowedHosts: ["Status.Example"] });
    const get = (host: string) => app.inject({ url: "/api/summary", headers: { host } });
    for (const host of ["localhost:8080", "127.0.0.1:8080", "[::1]:8080", "status.example"])
      expect((await get(host)).statusCode, host).toBe(200);
    const rebound = await get("evil.example:8080");
    expect(rebound.statusCode).toBe(421);
    expect(rebound.json()).toMatchObject({ error: "Misdirected Request" });
    // No host list leaks: the page itself is refused too.
    expect((await app.inject({ url: "/", headers: { host: "evil.example" } })).statusCode).toBe(
      421,
    );
  });

  it("is not applied off loopback, where credentials guard the page", async () => {
    const token = "a-long-enough-token-0123";
    const app = await build({ host: "0.0.0.0", token });
    const response = await app.inject({
      url: "/api/summary",
      headers: { host: "status.example.org", authorization: `Bearer ${token}` },
    });
    expect(response.statusCode).toBe(200);
  });
});

describe("the live stream", () => {
  it("refuses streams beyond http.maxStreams with 503, and frees a slot on close", async () => {
    const app = await build({ host: "127.0.0.1" }, { max: 2 });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    const first = new AbortController();
    const second = new AbortController();
    const a = await fetch(`${url}/api/stream`, { signal: first.signal });
    const b = await fetch(`${url}/api/stream`, { signal: second.signal });
    expect([a.status, b.status]).toEqual([200, 200]);
    const third = await fetch(`${url}/api/stream`);
    expect(third.status).toBe(503);
    expect(third.headers.get("retry-after")).toBe("10");
    first.abort();
    await waitFor(
      async () => {
        const again = await fetch(`${url}/api/stream`);
        if (again.status === 200) {
          await again.body?.cancel();
          return true;
        }
        return false;
      },
      { timeoutMs: 5000, what: "a slot after closing a stream" },
    );
    second.abort();
  });

  it("disconnects a client that stops reading instead of buffering without bound", async () => {
    const app = await build({ host: "127.0.0.1" }, { bufferBytes: 64 * 1024 });
    const port = Number(new URL(await app.listen({ host: "127.0.0.1", port: 0 })).port);
    // The previous test's streams are gone first.
    await waitFor(() => index.listenerCount("changes") === 0, {
      timeoutMs: 5000,
      what: "no streams",
    });
    const before = 0;
    const slow = connect(port, "127.0.0.1");
    await once(slow, "connect");
    slow.write("GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    slow.pause(); // reads nothing from now on
    await waitFor(() => index.listenerCount("changes") === before + 1, {
      timeoutMs: 5000,
      what: "the stream to open",
    });
    const big: HostRecord = {
      ...(index.get("a@localhost") as HostRecord),
      status: "x".repeat(60_000),
    };
    // Far more than the socket buffers hold: without a bound it would all sit in memory.
    for (let i = 0; i < 400 && index.listenerCount("changes") > before; i++) {
      index.emit("changes", [{ ...big }]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => index.listenerCount("changes") === before, {
      timeoutMs: 5000,
      what: "the slow client to be dropped",
    });
    slow.destroy();
  });
});
