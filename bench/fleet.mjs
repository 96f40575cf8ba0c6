#!/usr/bin/env node
/**
 * bench:fleet — the seed's design goal, "must be able to do 10K on off the
 * shelf hardware": N agent sessions (default 10,000) on one private ejabberd,
 * the jabmon component as its own process, and per agent a status presence and
 * K published results. Measures the time to bring the fleet online, the time
 * until the component has recorded every host, the rate at which published
 * results are stored, processed and scored, how fast abrupt disconnects are
 * seen, and the memory of ejabberd and of the component.
 *
 * The agents are light xmpp.js sessions in this one process (a real agent per
 * host would need 10,000 machines); they speak exactly the wire protocol of
 * docs/protocol.md. Knobs: BENCH_AGENTS=10000 BENCH_ITEMS=3 BENCH_KILL=200.
 *
 * Sustained load (issue 12): BENCH_SUSTAIN="10:300,2:300" runs phases of
 * interval_s:duration_s after the burst, every agent publishing once per
 * interval (staggered). Per phase: results/s processed, p50/p99 latency from
 * sending a publish to its acknowledgement and to the monitor's stored state
 * (sampled agents polled in Redis), processing lag over time (max/last), and
 * CPU µs per result of every process. BENCH_COMPONENTS=2 starts two
 * component processes on the one JID. BENCH_ROLES=1 splits the work instead
 * (docs/deploy.md, "Process roles"): one `xmpp` front, two `ingest`
 * processes and an `http` process for the page; results processed are then
 * counted in Redis (the ingest processes serve no /metrics) and the
 * processing lag is not sampled. BENCH_LAG_EVERY_MS (default 1000) is how
 * often the lag is read from /metrics; 0 reads it never, which leaves the
 * component's event loop alone. BENCH_OUT names the results file.
 * Writes bench/results/$BENCH_OUT.json (default fleet).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import { beamPid, benchWorld, COMPONENT, componentUp, cpuSeconds, dist, freePort, inBatches, metric, NS_JABMON, NS_PUBSUB, REDIS_URL, root, sleep, spawnComponent, stopProcess, waitUntil } from "./lib/run.mjs";
import { openSession, registerAccounts, statusPresence } from "./lib/sessions.mjs";

const { createRedis, deletePrefix, Keys } = await import(dist("store/index.js"));
const { silentLogger } = await import(dist("log/index.js"));

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 3);
const KILL = Math.min(AGENTS, Number(process.env.BENCH_KILL ?? 200));
const LAG_EVERY_MS = Number(process.env.BENCH_LAG_EVERY_MS ?? 1000);
const SUSTAIN = (process.env.BENCH_SUSTAIN ?? "")
  .split(",")
  .filter(Boolean)
  .map((phase) => phase.split(":").map(Number));
const COMPONENTS = Number(process.env.BENCH_COMPONENTS ?? 1);
const ROLES = process.env.BENCH_ROLES === "1";
/** BENCH_ROLES: the processes, in the order they are started. */
const ROLE_NAMES = ["xmpp", "ingest0", "ingest1", "http"];
const OUT = process.env.BENCH_OUT ?? "fleet";

const say = (line) => process.stderr.write(`bench:fleet ${line}\n`);

function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss_mb: kb("VmRSS") / 1024, anon_mb: kb("RssAnon") / 1024 };
}

function redisPid(url) {
  const port = new URL(url).port || "6379";
  try {
    const pids = execFileSync("pgrep", ["-f", `redis-server.*:${port}`]).toString().trim().split("\n");
    return Number(pids[0]);
  } catch {
    return Number.NaN;
  }
}

function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Results processed: the processes' counters, or (BENCH_ROLES) every host's processedCount in Redis. */
async function processedTotal(list) {
  if (!ROLES) return metricSum(list, "jabmon_items_processed_total");
  const redis = createRedis(REDIS_URL, silentLogger());
  const keys = new Keys(prefix);
  const pipeline = redis.pipeline();
  for (let i = 0; i < AGENTS; i++) pipeline.hget(keys.host(`host${i}@localhost`), "processedCount");
  const replies = (await pipeline.exec()) ?? [];
  redis.disconnect();
  return replies.reduce((sum, [, n]) => sum + Number(n ?? 0), 0);
}

/** The largest processing lag (s); not sampled with BENCH_ROLES (the ingest processes serve no /metrics). */
const lagMax = (list) => (ROLES ? Promise.resolve(Number.NaN) : metricMax(list, "jabmon_processing_lag_seconds"));

/** The sum (over component processes) of a metric. */
async function metricSum(list, name) {
  const values = await Promise.all(list.map((u) => metric(u, name).catch(() => 0)));
  return values.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
}

async function metricMax(list, name) {
  const values = await Promise.all(list.map((u) => metric(u, name).catch(() => 0)));
  return Math.max(...values.filter(Number.isFinite));
}

const { prefix, password, ejabberd, httpPort } = await benchWorld("fleet", {
  maxOpenFiles: 16_000,
  // Plain TCP on loopback, explicitly: 10,000 TLS handshakes would measure OpenSSL, not jabmon.
  tls: "none",
});
const agents = [];
let componentProcess;
const extraComponents = [];
const result = {
  agents: AGENTS,
  items_per_agent: ITEMS,
  component_processes: ROLES ? 4 : COMPONENTS,
  ...(ROLES ? { roles: "1 xmpp + 2 ingest + 1 http" } : {}),
};

try {
  say(`starting ejabberd (${ejabberd.dir})`);
  await ejabberd.start();
  const startComponent = (port, role = "all") =>
    spawnComponent(ejabberd, { prefix, httpPort: port, args: ["--role", role] });
  const componentPorts = [httpPort];
  if (ROLES) {
    componentProcess = startComponent(0, "xmpp");
    for (const role of ["ingest", "ingest", "http"])
      extraComponents.push(startComponent(role === "http" ? httpPort : 0, role));
  } else {
    componentProcess = startComponent(httpPort);
    for (let k = 1; k < COMPONENTS; k++) {
      componentPorts.push(await freePort());
      extraComponents.push(startComponent(componentPorts[k]));
    }
  }
  const urls = () => componentPorts.map((port) => `http://127.0.0.1:${port}`);
  const url = `http://127.0.0.1:${httpPort}`;
  await componentUp(url, 30_000);

  say(`registering ${AGENTS} accounts`);
  let t = Date.now();
  const hosts = Array.from({ length: AGENTS }, (_, i) => `host${i}`);
  await registerAccounts(ejabberd.c2sService, hosts, password, { insecure: true }, { say, label: "registered" });
  result.register_s = (Date.now() - t) / 1000;

  say(`connecting ${AGENTS} agents`);
  t = Date.now();
  await inBatches(
    AGENTS,
    Number(process.env.BENCH_CONNECT_BATCH ?? 50),
    async (i) => {
      const presence = statusPresence(`host${i}`, { status: "all 20 checks ok", checks: "20", failing: "0" });
      agents[i] = await openSession(ejabberd.c2sService, `host${i}`, password, { tls: { insecure: true }, presence });
    },
    { say, label: "online" },
  );
  result.connect_s = (Date.now() - t) / 1000;
  result.hosts_recorded_s =
    (Date.now() - t) / 1000 +
    (await waitUntil(async () => (await metric(url, "jabmon_agents_connected")) >= AGENTS, 120_000, "every host online"));

  const publishIq = (i, seq, k) =>
    xml(
      "iq",
      { type: "set", to: COMPONENT },
      xml(
        "pubsub",
        { xmlns: NS_PUBSUB },
        xml(
          "publish",
          { node: `agents/host${i}@localhost` },
          xml(
            "item",
            {},
            xml(
              "check",
              { xmlns: NS_JABMON, seq: String(seq), time: new Date().toISOString(), name: "disk_root", state: "ok" },
              xml("output", {}, `DISK OK - / ${40 + (k % 50)}% used`),
              xml("metric", { name: "/", value: String(40 + (k % 50)), uom: "%", warn: "90", crit: "95" }),
            ),
          ),
        ),
      ),
    );

  say(`publishing ${ITEMS} results per agent`);
  t = Date.now();
  let seq = 0;
  for (let k = 1; k <= ITEMS; k++) {
    seq = k;
    await inBatches(
      AGENTS,
      500,
      (i) => agents[i].iqCaller.request(publishIq(i, seq, k), 60_000),
      { say, label: `published round ${k}:` },
    );
  }
  const published = AGENTS * ITEMS;
  result.publish_acked_s = (Date.now() - t) / 1000;
  result.publish_acked_per_s = published / result.publish_acked_s;
  result.processed_s =
    result.publish_acked_s +
    (await waitUntil(async () => (await processedTotal(urls())) >= published, 300_000, "processing"));
  result.processed_per_s = published / result.processed_s;
  result.processing_lag_at_end_s = await lagMax(urls());

  const processes = {
    ejabberd: beamPid(ejabberd.nodeName),
    redis: redisPid(REDIS_URL),
    ...Object.fromEntries(
      [componentProcess, ...extraComponents].map((c, k) => [ROLES ? ROLE_NAMES[k] : `component${k}`, c.pid]),
    ),
    load_generator: process.pid,
  };
  let nextSeq = ITEMS + 1;
  for (const [intervalS, durationS] of SUSTAIN) {
    const phase = await sustained(intervalS, durationS);
    for (const [key, value] of Object.entries(phase)) result[`every_${intervalS}s_${key}`] = value;
  }

  /**
   * Every agent publishes once per `intervalS` for `durationS` (staggered
   * evenly); 20 sampled agents are polled in Redis for the time their result
   * is stored as the check's state.
   */
  async function sustained(intervalS, durationS) {
    say(`sustained: every agent every ${intervalS} s for ${durationS} s (${Math.round(AGENTS / intervalS)} results/s offered)`);
    const redis = createRedis(REDIS_URL, silentLogger());
    const keys = new Keys(prefix);
    const ackLatencies = [];
    const stateLatencies = [];
    const lags = [];
    const sampled = new Map(); // agent index -> { seq, sentAt }
    const sampleSet = new Set(Array.from({ length: 20 }, (_, k) => Math.floor((k * AGENTS) / 20)));
    const processedBefore = await processedTotal(urls());
    const cpuBefore = Object.fromEntries(Object.entries(processes).map(([n, pid]) => [n, cpuSeconds(pid)]));
    const started = Date.now();
    let sent = 0;
    let acked = 0;
    let failed = 0;
    const slotMs = (intervalS * 1000) / AGENTS;
    let stop = false;
    // One scheduler tick every 10 ms sends whatever is due, keeping agents evenly spread.
    const sender = (async () => {
      let cursor = 0;
      while (!stop) {
        const due = Math.floor((Date.now() - started) / slotMs);
        while (cursor < due && !stop) {
          const i = cursor % AGENTS;
          const seq = nextSeq + Math.floor(cursor / AGENTS);
          cursor += 1;
          const sentAt = Date.now();
          sent += 1;
          if (sampleSet.has(i)) sampled.set(i, { seq, sentAt });
          agents[i].iqCaller.request(publishIq(i, seq, cursor), 60_000).then(
            () => {
              acked += 1;
              ackLatencies.push(Date.now() - sentAt);
            },
            () => {
              failed += 1;
            },
          );
        }
        if (Date.now() - started >= durationS * 1000) stop = true;
        await sleep(10);
      }
      nextSeq += Math.ceil(cursor / AGENTS) + 1;
    })();
    const poller = (async () => {
      while (!stop) {
        for (const [i, { seq, sentAt }] of [...sampled]) {
          const stored = Number(await redis.hget(keys.check(`host${i}@localhost`, "disk_root"), "lastSeq"));
          if (stored >= seq) {
            stateLatencies.push(Date.now() - sentAt);
            sampled.delete(i);
          }
        }
        await sleep(20);
      }
    })();
    // Each sample is a /metrics scrape (10,000 per-host series): LAG_EVERY_MS=0 leaves the component alone.
    const lagSampler = (async () => {
      while (!stop && LAG_EVERY_MS > 0) {
        lags.push(await lagMax(urls()));
        await sleep(LAG_EVERY_MS);
      }
    })();
    await Promise.all([sender, poller, lagSampler]);
    const elapsedS = (Date.now() - started) / 1000;
    // Let what was sent finish processing before counting CPU.
    await waitUntil(async () => acked + failed >= sent, 60_000, "acks").catch(() => {});
    const processedAfter = await processedTotal(urls());
    const tailS = (Date.now() - started) / 1000 - elapsedS;
    const processed = processedAfter - processedBefore;
    redis.disconnect();
    ackLatencies.sort((a, b) => a - b);
    stateLatencies.sort((a, b) => a - b);
    const cpu = {};
    for (const [name, pid] of Object.entries(processes))
      cpu[`cpu_us_per_result_${name}`] = Math.round(((cpuSeconds(pid) - cpuBefore[name]) * 1e6) / Math.max(1, processed));
    return {
      offered_per_s: Math.round(AGENTS / intervalS),
      sent,
      failed,
      sustained_per_s: Math.round(processed / (elapsedS + tailS)),
      acked_per_s: Math.round(acked / (elapsedS + tailS)),
      p50_publish_to_ack_ms: quantile(ackLatencies, 0.5),
      p99_publish_to_ack_ms: quantile(ackLatencies, 0.99),
      p50_publish_to_state_ms: quantile(stateLatencies, 0.5),
      p99_publish_to_state_ms: quantile(stateLatencies, 0.99),
      state_samples: stateLatencies.length,
      max_lag_s: lags.length > 0 ? Math.max(...lags) : null,
      // Other work on the machine shares its two cores: the 1-minute load average at the end.
      loadavg_1m_at_end: Math.round(loadavg()[0] * 100) / 100,
      lag_at_end_s: lags[lags.length - 1],
      ...cpu,
    };
  }

  result.component_rss_mb = rssOf(componentProcess.pid).rss_mb;
  if (ROLES)
    extraComponents.forEach((c, k) => {
      result[`${ROLE_NAMES[k + 1]}_rss_mb`] = rssOf(c.pid).rss_mb;
    });
  result.ejabberd_rss_mb = rssOf(beamPid(ejabberd.nodeName)).rss_mb;
  result.load_generator_rss_mb = process.memoryUsage().rss / 1048576;

  say(`killing ${KILL} agent connections abruptly`);
  t = Date.now();
  for (let i = 0; i < KILL; i++) agents[i].socket?.destroy();
  result.kill_count = KILL;
  result.kill_all_seen_down_s = await waitUntil(
    async () => (await metric(url, "jabmon_agents_connected")) <= AGENTS - KILL,
    60_000,
    "the killed hosts to be down",
  );
} finally {
  say("cleaning up");
  await stopProcess(componentProcess);
  for (const extra of extraComponents) if (extra.exitCode === null) extra.kill("SIGTERM");
  await Promise.all(agents.map((a) => a?.stop().catch(() => {})));
  await ejabberd.destroy().catch(() => {});
  const redis = createRedis(REDIS_URL, silentLogger());
  await deletePrefix(redis, prefix);
  redis.disconnect();
}

mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", `${OUT}.json`), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
