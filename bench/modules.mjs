#!/usr/bin/env node
/**
 * bench:modules — roll-out of a signed check module: N sessions (default
 * 1,000) each running the agent's own module code (ModuleRunner over its own
 * XMPP session, as in every agent), the component as its own process. One
 * version is published; measured: the time until 99 % and 100 % of the
 * sessions run it (`p99_applied_s`, `all_applied_s`, from the publish
 * acknowledgement), the component's CPU seconds and Redis memory during the
 * roll-out. Then one real agent process takes RELOADS (default 50) new
 * versions in a row, twice: `jabmon agent` (the CLI, node's default flags:
 * `agent_*` keys) and the shipped bundle dist/jabmon-agent.mjs with the V8
 * flags of its shebang (`bundle_agent_*`).
 *
 * What "no RSS growth over reloads" is measured as. RSS read from /proc
 * (`*_rss_before_mb`, `*_rss_after_mb`, `*_rss_growth_mb`: v1 settled, then 3 s
 * after the last reload) moves with when V8 last collected and how big it
 * chose to make its heap, so on its own it cannot tell a leak from heap
 * sizing. The bench therefore also starts each agent with --expose-gc and
 * bench/lib/heap-probe.mjs, which on SIGUSR2 runs a full GC and reports heap
 * used and RSS: at reload WARMUP (10, when the reload path is compiled), every
 * 50 and at RELOADS. The goal's figures are the steady-state growth between
 * reload 10 and reload RELOADS after a full GC:
 * `*_heap_after_gc_growth_10_to_50_mb` (and per reload, in KiB) and
 * `*_rss_after_gc_growth_10_to_50_mb`. Nothing of the agent's own code
 * changes for this (the probe is preloaded), but the probe's forced GC at
 * reload 10 also lowers the plain RSS that follows it.
 * docs/modules.md ("Benchmark") has the investigation behind this: 1,500
 * reloads, heap snapshots, --jitless.
 *
 * Knobs: BENCH_AGENTS=1000 BENCH_RELOADS=50 BENCH_AGENT_LOG_DIR (keep the
 * reloading agents' logs) BENCH_OUT=modules. Writes bench/results/$BENCH_OUT.json.
 */
import { spawn } from "node:child_process";

import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import { benchWorld, COMPONENT, cpuSeconds, dist, inBatches, REDIS_URL, root, rssMb, sleep, spawnComponent, stopProcess, waitUntil } from "./lib/run.mjs";
import { registerAccounts } from "./lib/sessions.mjs";

const { createRedis, deletePrefix, Keys } = await import(dist("store/index.js"));
const { silentLogger } = await import(dist("log/index.js"));
const { registerAccount, assembleClient } = await import(dist("xmpp/index.js"));
const { ModuleRunner } = await import(dist("agent/index.js"));
const { ModuleClient } = await import(dist("cli/module.js"));
const m = await import(dist("modules/index.js"));

const AGENTS = Number(process.env.BENCH_AGENTS ?? 1000);
const RELOADS = Number(process.env.BENCH_RELOADS ?? 50);
/** Reloads before the steady state is taken as the baseline: V8 has compiled the reload path by then. */
const WARMUP = Math.min(10, RELOADS);

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

/**
 * The V8 and libuv settings of the shipped agent bundle, from its shebang
 * (`#!/usr/bin/env -S KEY=VALUE… node --flag…`): the bench runs it the way a host does.
 */
function shebangSettings(file) {
  const words = readFileSync(file, "utf8").split("\n", 1)[0].replace(/^#!\S+\s+-S\s+/, "").split(/\s+/);
  const at = words.indexOf("node");
  return {
    env: Object.fromEntries(words.slice(0, at).map((w) => w.split("=", 2))),
    flags: words.slice(at + 1),
  };
}

/** The steady-state figures of one reload series, under `prefix`_… keys. */
function steadyStateKeys(prefix, series) {
  const [from, to] = [WARMUP, RELOADS];
  const at = (n) => series.probes.find((p) => p.reloads === n);
  const a = at(from);
  const b = at(to);
  return {
    [`${prefix}_heap_after_gc_series_mb`]: Object.fromEntries(series.probes.map((p) => [p.reloads, round(p.heap_used_mb, 3)])),
    [`${prefix}_rss_after_gc_series_mb`]: Object.fromEntries(series.probes.map((p) => [p.reloads, round(p.rss_mb, 1)])),
    [`${prefix}_heap_after_gc_growth_${from}_to_${to}_mb`]: round(b.heap_used_mb - a.heap_used_mb, 3),
    [`${prefix}_heap_after_gc_growth_per_reload_${from}_to_${to}_kb`]: round(((b.heap_used_mb - a.heap_used_mb) * 1024) / (to - from), 2),
    [`${prefix}_rss_after_gc_growth_${from}_to_${to}_mb`]: round(b.rss_mb - a.rss_mb, 2),
  };
}

const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;

const { prefix, password, ejabberd, httpPort } = await benchWorld("modules", { maxOpenFiles: 16_000 });
// The sessions' caches on tmpfs when there is one: in a fleet every host fsyncs
// its own disk; here a thousand synchronous fsyncs would queue on one event loop.
const work = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "jabmon-bench-modules-"));
const sessions = [];
const children = [];
const redis = createRedis(REDIS_URL, silentLogger());
let client;
const result = { agents: AGENTS, reloads: RELOADS, reload_warmup: WARMUP };

/**
 * One real agent process (`entry`, with `node` flags and environment, plus
 * --expose-gc and bench/lib/heap-probe.mjs) takes RELOADS new versions of
 * `module` in a row. Measured: its RSS as the kernel reports it, before the
 * first reload (v1 settled) and 3 s after the last, with no forced GC
 * except those of the probes; and at reload WARMUP, every 50 and RELOADS the
 * probe's heap used and RSS right after a full GC (the steady state).
 */
async function reloadSeries({ user, module, node, entry }) {
  say(`${user}: one agent process, ${RELOADS} new versions (${entry.at(-1)})`);
  await registerAccount(ejabberd.c2sService, "localhost", user, password, { caFile: ejabberd.caFile });
  const agentDir = join(work, user);
  mkdirSync(agentDir, { recursive: true });
  const probeFile = join(agentDir, "heap-probe.jsonl");
  writeFileSync(join(agentDir, "agent.yml"), `checks: []\ngroups: [${user}]\ntrustedKeys: ["${key.publicKey}"]\nmodules: { cacheDir: ${join(agentDir, "modules")} }\nsocket: { enabled: false }\n`);
  const flags = [...new Set([...node.flags, "--expose-gc"]), "--import", join(root, "bench", "lib", "heap-probe.mjs")];
  const agent = spawn(process.execPath, [...flags, ...entry, "-c", join(agentDir, "agent.yml")], {
    env: {
      ...process.env,
      ...node.env,
      JABMON_LOG_LEVEL: "warn",
      JABMON_AGENT_SERVICE: ejabberd.c2sService,
      JABMON_AGENT_JID: `${user}@localhost`,
      JABMON_AGENT_PASSWORD: password,
      JABMON_AGENT_SPOOL_DIR: join(agentDir, "spool"),
      JABMON_AGENT_CA_FILE: ejabberd.caFile,
      JABMON_HEAP_PROBE_FILE: probeFile,
    },
    // BENCH_AGENT_LOG_DIR=dir keeps each reloading agent's log (warnings and errors) as <dir>/<user>.log.
    stdio: ["ignore", process.env.BENCH_AGENT_LOG_DIR ? openSync(join(process.env.BENCH_AGENT_LOG_DIR, `${user}.log`), "w") : "ignore", "inherit"],
  });
  children.push(agent);
  const keys = new Keys(prefix);
  const runs = async (v) => ((await redis.hget(keys.check(`${user}@localhost`, `module:${module}`), "output")) ?? "").startsWith(`${module} v${v} running`);
  const probeLines = () => (existsSync(probeFile) ? readFileSync(probeFile, "utf8").trim().split("\n").filter(Boolean) : []);
  const probes = [];
  const probe = async (reloads) => {
    const before = probeLines().length;
    agent.kill("SIGUSR2");
    await pollUntil(() => probeLines().length > before, 30_000, "the heap probe");
    probes.push({ reloads, ...JSON.parse(probeLines().at(-1)) });
  };
  try {
    await sleep(2000);
    await client.publish(moduleItem(module, 1, { groups: [user] }));
    await pollUntil(() => runs(1), 30_000, `${user} on v1`);
    await sleep(2000);
    const rssBeforeMb = rssMb(agent.pid);
    /** RSS every 25 reloads: growth that levels off is heap sizing, growth that does not is a leak. */
    const rssSeriesMb = [];
    let reloading = 0;
    for (let v = 2; v <= RELOADS + 1; v++) {
      const t = Date.now();
      await client.publish(moduleItem(module, v, { groups: [user] }));
      await pollUntil(() => runs(v), 30_000, `${user} on v${v}`);
      reloading += Date.now() - t;
      const done = v - 1;
      if (done % 25 === 0) rssSeriesMb.push(round(rssMb(agent.pid), 1));
      // The module's one check and its module: result are spooled and acknowledged by now.
      if (done === WARMUP || done % 50 === 0 || done === RELOADS) {
        if (done === RELOADS) await sleep(3000);
        const rssAfterMb = done === RELOADS ? rssMb(agent.pid) : undefined;
        await sleep(done === RELOADS ? 0 : 1000);
        await probe(done);
        if (rssAfterMb !== undefined) return { flags, rssBeforeMb, rssAfterMb, rssSeriesMb, probes, reloadMeanS: reloading / 1000 / RELOADS };
      }
    }
    throw new Error("unreachable");
  } finally {
    await stopProcess(agent);
  }
}

try {
  await ejabberd.start();
  // Every session, and the two reloading agents, subscribe to the `modules`
  // index node: the component's own nodes have no per-node subscriber cap.
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

  const cli = await reloadSeries({
    user: "reloader",
    module: "reload-mod",
    node: { flags: [], env: {} },
    entry: [dist("cli/main.js"), "agent"],
  });
  result.agent_rss_before_mb = cli.rssBeforeMb;
  result.agent_rss_series_mb = cli.rssSeriesMb;
  result.reload_mean_s = cli.reloadMeanS;
  result.agent_rss_after_mb = cli.rssAfterMb;
  result.agent_rss_growth_mb = cli.rssAfterMb - cli.rssBeforeMb;
  Object.assign(result, steadyStateKeys("agent", cli));
  const bundle = join(root, "dist", "jabmon-agent.mjs");
  if (existsSync(bundle)) {
    const shipped = await reloadSeries({ user: "bundled", module: "reload-bundle", node: shebangSettings(bundle), entry: [bundle] });
    // The shebang's flags; the bench adds --import bench/lib/heap-probe.mjs.
    result.bundle_agent_node_flags = shebangSettings(bundle).flags.join(" ");
    result.bundle_agent_rss_before_mb = shipped.rssBeforeMb;
    result.bundle_agent_rss_series_mb = shipped.rssSeriesMb;
    result.bundle_agent_rss_after_mb = shipped.rssAfterMb;
    result.bundle_agent_rss_growth_mb = shipped.rssAfterMb - shipped.rssBeforeMb;
    Object.assign(result, steadyStateKeys("bundle_agent", shipped));
  } else say("dist/jabmon-agent.mjs missing (npm run bundle:agent): the shipped bundle's reloads not measured");
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
writeFileSync(join(root, "bench", "results", `${process.env.BENCH_OUT ?? "modules"}.json`), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
