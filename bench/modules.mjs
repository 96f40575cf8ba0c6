#!/usr/bin/env node
/**
 * bench:modules — roll-out of a signed check module: N sessions (default
 * 1,000) each running the agent's own module code (ModuleRunner over its own
 * XMPP session, as in every agent), the component as its own process. One
 * version is published; measured: the time until 99 % and 100 % of the
 * sessions run it (`p99_applied_s`, `all_applied_s`, from the publish
 * acknowledgement), the component's CPU seconds and Redis memory during the
 * roll-out. Then one real agent process (`jabmon agent`) takes RELOADS (default
 * 50) new versions in a row: its RSS before and after (no growth expected).
 * Knobs: BENCH_AGENTS=1000 BENCH_RELOADS=50. Writes bench/results/modules.json.
 */
import { spawn } from "node:child_process";

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import { benchWorld, COMPONENT, cpuSeconds, dist, inBatches, REDIS_URL, root, rssMb, sleep, spawnComponent, waitUntil } from "./lib/run.mjs";
import { registerAccounts } from "./lib/sessions.mjs";

const { createRedis, deletePrefix, Keys } = await import(dist("store/index.js"));
const { silentLogger } = await import(dist("log/index.js"));
const { registerAccount, assembleClient } = await import(dist("xmpp/index.js"));
const { ModuleRunner } = await import(dist("agent/index.js"));
const { ModuleClient } = await import(dist("cli/module.js"));
const m = await import(dist("modules/index.js"));

const AGENTS = Number(process.env.BENCH_AGENTS ?? 1000);
const RELOADS = Number(process.env.BENCH_RELOADS ?? 50);

const say = (line) => process.stderr.write(`bench:modules ${line}\n`);
/** Every 20 ms: a roll-out and a reload take seconds and tenths of a second. */
const pollUntil = (probe, timeoutMs, what) => waitUntil(probe, timeoutMs, what, 20);

const key = m.generateSigningKey();
const signing = m.loadSigningKey(key.privateKeyPem);
function moduleItem(name, version, target) {
  const manifest = m.parseManifest({ name, version, target, checks: [{ type: "uptime", name: "up", interval: 3600 }] });
  const bytes = Buffer.from(JSON.stringify(manifest));
  return m.moduleElement(
    { manifestBytes: bytes, files: new Map(), canary: 100, signature: { key: signing.publicKey, value: m.signManifest(bytes, signing) } },
    manifest,
  );
}

const { prefix, password, ejabberd, httpPort } = await benchWorld("modules", { maxOpenFiles: 16_000 });
// The sessions' caches on tmpfs when there is one: in a fleet every host fsyncs
// its own disk; here a thousand synchronous fsyncs would queue on one event loop.
const work = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "jabmon-bench-modules-"));
const sessions = [];
const children = [];
const redis = createRedis(REDIS_URL, silentLogger());
let client;
const result = { agents: AGENTS, reloads: RELOADS };

try {
  await ejabberd.start();
  const component = spawnComponent(ejabberd, {
    prefix,
    httpPort,
    env: { JABMON_MODULE_PUBLISHERS: "publisher@localhost" },
  });
  children.push(component);
  await registerAccount(ejabberd.c2sService, "localhost", "publisher", password, { caFile: ejabberd.caFile });
  await sleep(1500);
  client = await ModuleClient.connect({ service: ejabberd.c2sService, jid: "publisher@localhost", password, component: COMPONENT, caFile: ejabberd.caFile });

  say(`registering and connecting ${AGENTS} module sessions`);
  const hosts = Array.from({ length: AGENTS }, (_, i) => `host${i}`);
  await registerAccounts(ejabberd.c2sService, hosts, password, { caFile: ejabberd.caFile });
  await inBatches(AGENTS, 50, async (i) => {
    const xmpp = assembleClient({ service: ejabberd.c2sService, jid: `host${i}@localhost`, password, resource: "agent", streamManagement: false, caFile: ejabberd.caFile });
    xmpp.on("error", () => {});
    const runner = new ModuleRunner(
      {
        xmpp, component: COMPONENT, jid: `host${i}@localhost`, host: `host${i}`, cacheDir: join(work, `host${i}`),
        log: silentLogger(), intervalS: 3600, maxOutputBytes: 4096, onResult: () => {}, onChange: () => {},
      },
      { groups: ["fleet"], trustedKeys: [key.publicKey] },
    );
    await xmpp.start();
    await xmpp.send(xml("presence"));
    runner.online();
    await runner.idle();
    sessions.push({ xmpp, runner });
  });

  say("rolling out v1");
  const memBefore = Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1]);
  const cpuBefore = cpuSeconds(component.pid);
  const t = Date.now();
  await client.publish(moduleItem("fleet-basics", 1, { groups: ["fleet"] }));
  const acked = Date.now();
  const applied = () => sessions.filter((s) => s.runner.list().includes("fleet-basics@1")).length;
  result.publish_ack_s = (acked - t) / 1000;
  // Seconds from the publish IQ being sent until n sessions run the version.
  const reached = async (n, what) => {
    await pollUntil(() => applied() >= n, 120_000, what);
    return (Date.now() - t) / 1000;
  };
  result.p99_applied_s = await reached(Math.ceil(AGENTS * 0.99), "99%");
  result.all_applied_s = await reached(AGENTS, "100%");
  result.component_cpu_s = cpuSeconds(component.pid) - cpuBefore;
  result.component_rss_mb = rssMb(component.pid);
  const memAfter = Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1]);
  result.redis_used_memory_mb = memAfter / 1048576;
  result.redis_delta_mb_shared_instance = (memAfter - memBefore) / 1048576;
  result.load_generator_rss_mb = process.memoryUsage().rss / 1048576;
  for (const s of sessions) s.runner.stop();
  await Promise.all(sessions.map((s) => s.xmpp.stop().catch(() => {})));
  sessions.length = 0;

  say(`one agent process, ${RELOADS} new versions`);
  await registerAccount(ejabberd.c2sService, "localhost", "reloader", password, { caFile: ejabberd.caFile });
  const agentDir = join(work, "reloader");
  mkdirSync(agentDir, { recursive: true });
  writeFileSync(join(agentDir, "agent.yml"), `checks: []\ngroups: [reload]\ntrustedKeys: ["${key.publicKey}"]\nmodules: { cacheDir: ${join(agentDir, "modules")} }\nsocket: { enabled: false }\n`);
  const agent = spawn(process.execPath, [dist("cli/main.js"), "agent", "-c", join(agentDir, "agent.yml")], {
    env: {
      ...process.env,
      JABMON_LOG_LEVEL: "warn",
      JABMON_AGENT_SERVICE: ejabberd.c2sService,
      JABMON_AGENT_JID: "reloader@localhost",
      JABMON_AGENT_PASSWORD: password,
      JABMON_AGENT_SPOOL_DIR: join(agentDir, "spool"),
      JABMON_AGENT_CA_FILE: ejabberd.caFile,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(agent);
  const keys = new Keys(prefix);
  const runs = async (v) => ((await redis.hget(keys.check("reloader@localhost", "module:reload-mod"), "output")) ?? "").startsWith(`reload-mod v${v} running`);
  await sleep(2000);
  await client.publish(moduleItem("reload-mod", 1, { groups: ["reload"] }));
  await pollUntil(() => runs(1), 30_000, "the agent on v1");
  await sleep(2000);
  result.agent_rss_before_mb = rssMb(agent.pid);
  /** RSS every 25 reloads: growth that levels off is heap sizing, growth that does not is a leak. */
  result.agent_rss_series_mb = [];
  const started = Date.now();
  for (let v = 2; v <= RELOADS + 1; v++) {
    await client.publish(moduleItem("reload-mod", v, { groups: ["reload"] }));
    await pollUntil(() => runs(v), 30_000, `the agent on v${v}`);
    if ((v - 1) % 25 === 0) result.agent_rss_series_mb.push(Math.round(rssMb(agent.pid) * 10) / 10);
  }
  result.reload_mean_s = (Date.now() - started) / 1000 / RELOADS;
  await sleep(3000);
  result.agent_rss_after_mb = rssMb(agent.pid);
  result.agent_rss_growth_mb = result.agent_rss_after_mb - result.agent_rss_before_mb;
} finally {
  say("cleaning up");
  for (const s of sessions) s.runner.stop();
  await Promise.all(sessions.map((s) => s.xmpp.stop().catch(() => {})));
  await client?.stop().catch(() => {});
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  await sleep(500);
  await ejabberd.destroy().catch(() => {});
  await deletePrefix(redis, prefix);
  redis.disconnect();
  rmSync(work, { recursive: true, force: true });
}

mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "modules.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
