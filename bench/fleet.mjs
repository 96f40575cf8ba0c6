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
 * Writes bench/results/fleet.json.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { xml } from "@xmpp/client";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = (p) => join(root, "dist", p);
const { freePort, PrivateEjabberd } = await import(dist("stack/index.js"));
const { createRedis, deletePrefix } = await import(dist("store/index.js"));
const { silentLogger } = await import(dist("log/index.js"));
const { registerAccount } = await import(dist("xmpp/index.js"));
const { createClient } = await import(dist("client/index.js"));

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 3);
const KILL = Math.min(AGENTS, Number(process.env.BENCH_KILL ?? 200));
const REDIS_URL = process.env.JABMON_REDIS_URL ?? "redis://127.0.0.1:6379";
const COMPONENT = "monitor.localhost";
const NS_JABMON = "urn:jabmon:0";
const NS_PUBSUB = "http://jabber.org/protocol/pubsub";

const say = (line) => process.stderr.write(`bench:fleet ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss_mb: kb("VmRSS") / 1024, anon_mb: kb("RssAnon") / 1024 };
}

function beamPid(nodeName) {
  const pids = execFileSync("pgrep", ["-f", nodeName.split("@")[0]]).toString().trim().split("\n");
  // The beam.smp process, not the shell wrappers around it.
  return Number(pids.find((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes("beam")));
}

async function inBatches(count, size, fn, label) {
  let done = 0;
  for (let i = 0; i < count; i += size) {
    await Promise.all(Array.from({ length: Math.min(size, count - i) }, (_, j) => fn(i + j)));
    done = Math.min(count, i + size);
    if (done % 2000 < size) say(`${label} ${done}/${count}`);
  }
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

async function waitUntil(probe, timeoutMs, what) {
  const start = Date.now();
  for (;;) {
    if (await probe()) return (Date.now() - start) / 1000;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const prefix = `jabmon-bench-fleet:${randomUUID()}:`;
const password = randomBytes(8).toString("hex");
const ejabberd = await PrivateEjabberd.create({
  name: "fleet",
  c2sPort: await freePort(),
  componentPort: await freePort(),
  componentPassword: randomBytes(8).toString("hex"),
  maxOpenFiles: 16_000,
});
const httpPort = await freePort();
const agents = [];
let componentProcess;
const result = { agents: AGENTS, items_per_agent: ITEMS };

try {
  say(`starting ejabberd (${ejabberd.dir})`);
  await ejabberd.start();
  componentProcess = spawn(process.execPath, [dist("cli/main.js"), "component"], {
    env: {
      ...process.env,
      JABMON_LOG_LEVEL: "warn",
      JABMON_COMPONENT_SERVICE: ejabberd.componentService,
      JABMON_COMPONENT_PASSWORD: ejabberd.config.componentPassword,
      JABMON_REDIS_URL: REDIS_URL,
      JABMON_REDIS_PREFIX: prefix,
      JABMON_HTTP_PORT: String(httpPort),
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${httpPort}`;
  await waitUntil(async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok, 30_000, "the component");

  say(`registering ${AGENTS} accounts`);
  let t = Date.now();
  await inBatches(AGENTS, 20, (i) => registerAccount(ejabberd.c2sService, "localhost", `host${i}`, password), "registered");
  result.register_s = (Date.now() - t) / 1000;

  say(`connecting ${AGENTS} agents`);
  t = Date.now();
  await inBatches(
    AGENTS,
    Number(process.env.BENCH_CONNECT_BATCH ?? 50),
    async (i) => {
      const xmpp = createClient({ service: ejabberd.c2sService, domain: "localhost", username: `host${i}`, password, resource: "agent" });
      xmpp.on("error", () => {});
      await xmpp.start();
      await xmpp.send(
        xml(
          "presence",
          { to: COMPONENT },
          xml("status", {}, "all 20 checks ok"),
          xml("x", { xmlns: NS_JABMON, host: `host${i}`, version: "bench", state: "ok", checks: "20", failing: "0" }),
        ),
      );
      agents[i] = xmpp;
    },
    "online",
  );
  result.connect_s = (Date.now() - t) / 1000;
  result.hosts_recorded_s =
    (Date.now() - t) / 1000 +
    (await waitUntil(async () => (await metric(url, "jabmon_agents_connected")) >= AGENTS, 120_000, "every host online"));

  say(`publishing ${ITEMS} results per agent`);
  t = Date.now();
  let seq = 0;
  for (let k = 1; k <= ITEMS; k++) {
    seq = k;
    await inBatches(
      AGENTS,
      500,
      (i) =>
        agents[i].iqCaller.request(
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
                    xml("output", {}, `DISK OK - / ${40 + k}% used`),
                    xml("metric", { name: "/", value: String(40 + k), uom: "%", warn: "90", crit: "95" }),
                  ),
                ),
              ),
            ),
          ),
          60_000,
        ),
      `published round ${k}:`,
    );
  }
  const published = AGENTS * ITEMS;
  result.publish_acked_s = (Date.now() - t) / 1000;
  result.publish_acked_per_s = published / result.publish_acked_s;
  result.processed_s =
    result.publish_acked_s +
    (await waitUntil(async () => (await metric(url, "jabmon_items_processed_total")) >= published, 300_000, "processing"));
  result.processed_per_s = published / result.processed_s;
  result.processing_lag_at_end_s = await metric(url, "jabmon_processing_lag_seconds");

  result.component_rss_mb = rssOf(componentProcess.pid).rss_mb;
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
  if (componentProcess && componentProcess.exitCode === null) {
    const exited = new Promise((r) => componentProcess.once("exit", r));
    componentProcess.kill("SIGTERM");
    await exited;
  }
  await Promise.all(agents.map((a) => a?.stop().catch(() => {})));
  await ejabberd.destroy().catch(() => {});
  const redis = createRedis(REDIS_URL, silentLogger());
  await deletePrefix(redis, prefix);
  redis.disconnect();
}

mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "fleet.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
