// bench:http — response time of the status API on a 10,000-host fleet, served
// from the in-memory snapshot, against the naive peer: reading every host hash
// from Redis per request (what /api/hosts did before the snapshot).
// Writes bench/results/http.json.
import { writeFileSync, mkdirSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { buildHttpServer, HostIndex } from "../dist/http/index.js";
import { silentLogger } from "../dist/log/index.js";
import { createRedis, deletePrefix, HostStore, Keys } from "../dist/store/index.js";

const FLEET = Number(process.env.BENCH_HOSTS ?? 10_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 500);
const url = process.env.JABMON_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `jabmon-bench:${randomUUID()}:`;
const log = silentLogger();
const redis = createRedis(url, log);
const keys = new Keys(prefix);
const store = new HostStore(redis, keys);

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
async function measure(label, fn) {
  const times = [];
  const start = performance.now();
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    await fn(i);
    times.push(performance.now() - t);
  }
  const total = performance.now() - start;
  times.sort((a, b) => a - b);
  const r = { p50_ms: pct(times, 50), p99_ms: pct(times, 99), per_s: (REQUESTS / total) * 1000 };
  process.stderr.write(`${label}: p50 ${r.p50_ms.toFixed(2)} ms, p99 ${r.p99_ms.toFixed(2)} ms, ${r.per_s.toFixed(0)}/s\n`);
  return r;
}

try {
  process.stderr.write(`writing ${FLEET} hosts…\n`);
  const states = ["ok", "warning", "critical", "unknown"];
  for (let i = 0; i < FLEET; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(FLEET, i + 1000); j++) {
      const jid = `host${j}@localhost`;
      batch.push(store.recordPresence(jid, `${jid}/a`, { host: `host${j}`, state: states[j % 4], status: "all ok" }));
    }
    await Promise.all(batch);
  }
  const index = new HostIndex({ store, redis, keys, log });
  await index.start();
  const app = await buildHttpServer({
    index,
    log,
    access: { host: "127.0.0.1" },
    health: async () => ({}),
    metrics: { xmppOnline: () => true, redisLatency: async () => 0 },
  });
  const base = await app.listen({ host: "127.0.0.1", port: 0 });
  const get = (path) => fetch(base + path).then((r) => r.text());
  for (let i = 0; i < 20; i++) await get("/api/hosts?limit=200"); // warm up

  const page = await measure("snapshot page (limit 200, sorted by state)", () => get("/api/hosts?limit=200"));
  const search = await measure("snapshot search (q + state filter)", (i) => get(`/api/hosts?q=host${i % 100}&state=critical,warning`));
  const summary = await measure("summary", () => get("/api/summary"));
  const naive = await measure("peer: read all host hashes from Redis", () => store.list());

  const result = {
    hosts: FLEET,
    requests_per_case: REQUESTS,
    page_p50_ms: page.p50_ms,
    page_p99_ms: page.p99_ms,
    page_per_s: page.per_s,
    search_p50_ms: search.p50_ms,
    search_p99_ms: search.p99_ms,
    summary_p99_ms: summary.p99_ms,
    peer_redis_full_read_p50_ms: naive.p50_ms,
    peer_redis_full_read_p99_ms: naive.p99_ms,
    ratio_page_speedup_vs_redis_full_read: naive.p50_ms / page.p50_ms,
    rss_mb: process.memoryUsage().rss / 1048576,
  };
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("./results/http.json", import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
  await app.close();
  index.stop();
} finally {
  await deletePrefix(redis, prefix);
  redis.disconnect();
}
