import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpServer, HostIndex, HttpAccessError } from "../../src/http/index.js";
import { silentLogger } from "../../src/log/index.js";
import { createRedis, deletePrefix, HostStore, Keys, type Redis } from "../../src/store/index.js";
import { CLI, REDIS_URL } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const prefix = `jabmon-test:${crypto.randomUUID()}:`;
const FLEET = 10_000;
let redis: Redis;
let store: HostStore;
let index: HostIndex;
let app: FastifyInstance;

const states = ["ok", "warning", "critical", "unknown"] as const;

async function build(
  access = { host: "127.0.0.1" } as { host: string; token?: string; basic?: string },
) {
  return buildHttpServer({
    index,
    log: silentLogger(),
    access,
    health: async () => ({ xmpp: true, redis: true }),
    metrics: { xmppOnline: () => true, redisLatency: async () => 0.001 },
  });
}

beforeAll(async () => {
  redis = createRedis(REDIS_URL, silentLogger());
  const keys = new Keys(prefix);
  store = new HostStore(redis, keys);
  // A 10,000-host fleet: host0000..host9999, states cycling, every 10th offline.
  const now = Date.now();
  // Connected first: commands issued before are queued, and the queue is bounded (1000).
  await redis.ping();
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < FLEET; i++) {
    const name = `host${String(i).padStart(4, "0")}`;
    const jid = `${name}@localhost`;
    writes.push(
      store.recordPresence(
        jid,
        `${jid}/agent`,
        { host: name, state: states[i % 4], status: i % 7 === 0 ? "disk /var 96%" : "all ok" },
        now - i,
      ),
    );
    if (i % 10 === 9) writes.push(store.markOffline(jid, `${jid}/agent`, "went offline", now));
  }
  await Promise.all(writes);
  index = new HostIndex({ store, redis, keys, log: silentLogger() });
  await index.start();
  app = await build();
}, 60_000);

afterAll(async () => {
  await app?.close();
  index?.stop();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

describe("GET /api/hosts on a 10,000-host fleet", () => {
  it("returns one page, worst state first, with the total in a header", async () => {
    const response = await app.inject({ url: "/api/hosts?limit=50" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["x-total-count"]).toBe(String(FLEET));
    const hosts = response.json() as Array<{ state: string; online: boolean }>;
    expect(hosts).toHaveLength(50);
    expect(hosts.every((h) => h.state === "down" && !h.online)).toBe(true);
  });

  it("filters by state and text, and pages without gaps or overlaps", async () => {
    const first = await app.inject({ url: "/api/hosts?state=critical&q=disk&limit=100" });
    const total = Number(first.headers["x-total-count"]);
    // critical = i%4==2, online (i%10 != 9), status "disk" = i%7==0
    let expected = 0;
    for (let i = 0; i < FLEET; i++) if (i % 4 === 2 && i % 10 !== 9 && i % 7 === 0) expected++;
    expect(total).toBe(expected);
    const seen = new Set<string>();
    for (let offset = 0; offset < total; offset += 100) {
      const page = await app.inject({
        url: `/api/hosts?state=critical&q=disk&limit=100&offset=${offset}`,
      });
      for (const h of page.json() as Array<{ jid: string; state: string; status: string }>) {
        expect(h.state).toBe("critical");
        expect(h.status).toContain("disk");
        seen.add(h.jid);
      }
    }
    expect(seen.size).toBe(expected);
  });

  it("sorts by host name in both directions", async () => {
    const asc = (await app.inject({ url: "/api/hosts?sort=host&limit=2" })).json() as Array<{
      host: string;
    }>;
    const desc = (
      await app.inject({ url: "/api/hosts?sort=host&order=desc&limit=2" })
    ).json() as Array<{ host: string }>;
    expect(asc.map((h) => h.host)).toEqual(["host0000", "host0001"]);
    expect(desc.map((h) => h.host)).toEqual(["host9999", "host9998"]);
  });

  it("answers a bad query with a 400 and a JSON message", async () => {
    const response = await app.inject({ url: "/api/hosts?state=purple" });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      statusCode: 400,
      message: expect.stringContaining("state"),
    });
    expect((await app.inject({ url: "/api/hosts?limit=0" })).statusCode).toBe(400);
  });
});

describe("the rest of the API", () => {
  it("counts hosts per state", async () => {
    const summary = (await app.inject({ url: "/api/summary" })).json() as Record<string, number>;
    expect(summary.total).toBe(FLEET);
    expect(summary.down).toBe(FLEET / 10);
    expect(summary.ok + summary.warning + summary.critical + summary.unknown + summary.down).toBe(
      FLEET,
    );
  });

  it("returns one host, and a JSON 404 for an unknown one", async () => {
    const one = await app.inject({ url: `/api/hosts/${encodeURIComponent("host0002@localhost")}` });
    expect(one.json()).toMatchObject({
      jid: "host0002@localhost",
      host: "host0002",
      state: "critical",
    });
    const none = await app.inject({ url: "/api/hosts/nobody@localhost" });
    expect(none.statusCode).toBe(404);
    expect(none.json().message).toContain("nobody@localhost");
  });

  it("describes itself in OpenAPI", async () => {
    const doc = (await app.inject({ url: "/api/openapi.json" })).json() as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/api/hosts", "/api/hosts/{jid}", "/api/summary", "/metrics"]),
    );
  });

  it("exposes Prometheus metrics with per-state counts and per-host state", async () => {
    const text = (await app.inject({ url: "/metrics" })).body;
    expect(text).toContain(`jabmon_hosts{state="down"} ${FLEET / 10}`);
    expect(text).toMatch(/jabmon_host_state\{jid="host0002@localhost",host="host0002"\} 2/);
    expect(text).toContain("jabmon_redis_latency_seconds");
    expect(text).toContain("jabmon_agents_connected 9000");
  });

  it("refuses every state-changing method", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"] as const) {
      expect((await app.inject({ method, url: "/api/hosts" })).statusCode).toBe(404);
    }
  });

  it("sees a change written to Redis without a reload", async () => {
    await store.markOffline("host0000@localhost", undefined, "went offline");
    await waitFor(() => index.get("host0000@localhost")?.state === "down", { timeoutMs: 2000 });
    const one = (await app.inject({ url: "/api/hosts/host0000@localhost" })).json();
    expect(one).toMatchObject({ online: false, offlineReason: "went offline" });
  });
});

describe("access control", () => {
  it("refuses to serve a non-loopback address without credentials", async () => {
    await expect(build({ host: "0.0.0.0" })).rejects.toThrow(HttpAccessError);
  });

  it("stops `jabmon component` with an open status page before it writes anything", async () => {
    const cliPrefix = `jabmon-test:${crypto.randomUUID()}:`;
    const run = promisify(execFile);
    const failure = await run(process.execPath, [CLI, "component"], {
      env: {
        ...process.env,
        JABMON_REDIS_URL: REDIS_URL,
        JABMON_REDIS_PREFIX: cliPrefix,
        JABMON_HTTP_HOST: "0.0.0.0",
        JABMON_COMPONENT_PASSWORD: "unused-but-valid-7f3a9c",
        JABMON_COMPONENT_SERVICE: "xmpp://127.0.0.1:1",
      },
    }).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/http\.host is 0\.0\.0\.0, not loopback: set http\.token/);
    expect(await redis.keys(`${cliPrefix}*`)).toEqual([]);
  });

  it("requires the token or basic credentials when configured, except for /healthz", async () => {
    const guarded = await build({
      host: "0.0.0.0",
      token: "t".repeat(20),
      basic: "ops:correct-horse",
    });
    try {
      expect((await guarded.inject({ url: "/api/summary" })).statusCode).toBe(401);
      expect(
        (await guarded.inject({ url: "/api/summary", headers: { authorization: "Bearer wrong" } }))
          .statusCode,
      ).toBe(401);
      const bearer = await guarded.inject({
        url: "/api/summary",
        headers: { authorization: `Bearer ${"t".repeat(20)}` },
      });
      expect(bearer.statusCode).toBe(200);
      const basic = `Basic ${Buffer.from("ops:correct-horse").toString("base64")}`;
      expect(
        (await guarded.inject({ url: "/", headers: { authorization: basic } })).statusCode,
      ).toBe(200);
      expect((await guarded.inject({ url: "/healthz" })).statusCode).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});
