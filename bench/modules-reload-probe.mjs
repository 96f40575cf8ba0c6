#!/usr/bin/env node
/**
 * Investigation: one real `jabmon agent` process (with --expose-gc and
 * bench/lib/heap-probe.mjs preloaded) takes N module versions in a row;
 * at each checkpoint the probe forces a GC and records heap and RSS.
 * Run: node bench/modules-reload-probe.mjs 200 [checkpoint every=10] [snapshots at=0,50,200]
 * AGENT_NODE_FLAGS="--jitless" passes flags to the agent's node.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchWorld, COMPONENT, dist, REDIS_URL, root, sleep, spawnComponent, waitUntil } from "./lib/run.mjs";

const { createRedis, deletePrefix, Keys } = await import(dist("store/index.js"));
const { silentLogger } = await import(dist("log/index.js"));
const { registerAccount } = await import(dist("xmpp/index.js"));
const { ModuleClient } = await import(dist("cli/module.js"));
const m = await import(dist("modules/index.js"));

const N = Number(process.argv[2] ?? 200);
const EVERY = Number(process.argv[3] ?? 10);
const SNAPS = new Set((process.argv[4] ?? "").split(",").filter(Boolean).map(Number));
const say = (line) => process.stderr.write(`probe ${line}\n`);
const key = m.generateSigningKey();
const signing = m.loadSigningKey(key.privateKeyPem);
function moduleItem(name, version, target) {
  const manifest = m.parseManifest({ name, version, target, checks: [{ type: "uptime", name: "up", interval: 3600 }] });
  const bytes = Buffer.from(JSON.stringify(manifest));
  return m.moduleElement({ manifestBytes: bytes, files: new Map(), canary: 100, signature: { key: signing.publicKey, value: m.signManifest(bytes, signing) } }, manifest);
}
const { prefix, password, ejabberd, httpPort } = await benchWorld("modules-probe");
const work = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "jabmon-probe-"));
const outDir = process.env.PROBE_OUT ?? join(tmpdir(), "jabmon-probe-out");
mkdirSync(outDir, { recursive: true });
const probeFile = join(outDir, "probe.jsonl");
rmSync(probeFile, { force: true });
rmSync(`${probeFile}.snapshot-next`, { force: true });
const children = [];
const redis = createRedis(REDIS_URL, silentLogger());
let client;
try {
  await ejabberd.start();
  children.push(spawnComponent(ejabberd, { prefix, httpPort, env: { JABMON_MODULE_PUBLISHERS: "publisher@localhost" } }));
  await registerAccount(ejabberd.c2sService, "localhost", "publisher", password, { caFile: ejabberd.caFile });
  await registerAccount(ejabberd.c2sService, "localhost", "reloader", password, { caFile: ejabberd.caFile });
  await sleep(1500);
  client = await ModuleClient.connect({ service: ejabberd.c2sService, jid: "publisher@localhost", password, component: COMPONENT, caFile: ejabberd.caFile });
  const agentDir = join(work, "reloader");
  mkdirSync(agentDir, { recursive: true });
  writeFileSync(join(agentDir, "agent.yml"), `checks: []\ngroups: [reload]\ntrustedKeys: ["${key.publicKey}"]\nmodules: { cacheDir: ${join(agentDir, "modules")} }\nsocket: { enabled: false }\n`);
  const agent = spawn(process.execPath, [...(process.env.AGENT_NODE_FLAGS ?? "").split(" ").filter(Boolean), "--expose-gc", "--import", join(root, "bench/lib/heap-probe.mjs"), dist("cli/main.js"), "agent", "-c", join(agentDir, "agent.yml")], {
    env: {
      ...process.env,
      JABMON_LOG_LEVEL: "warn",
      JABMON_AGENT_SERVICE: ejabberd.c2sService,
      JABMON_AGENT_JID: "reloader@localhost",
      JABMON_AGENT_PASSWORD: password,
      JABMON_AGENT_SPOOL_DIR: join(agentDir, "spool"),
      JABMON_AGENT_CA_FILE: ejabberd.caFile,
      JABMON_HEAP_PROBE_FILE: probeFile,
    },
    // AGENT_STDOUT=file keeps what the agent prints (e.g. with --trace-deopt).
    stdio: ["ignore", process.env.AGENT_STDOUT ? openSync(process.env.AGENT_STDOUT, "w") : "ignore", "inherit"],
  });
  children.push(agent);
  const keys = new Keys(prefix);
  const runs = async (v) => ((await redis.hget(keys.check("reloader@localhost", "module:reload-mod"), "output")) ?? "").startsWith(`reload-mod v${v} running`);
  const lines = () => (existsSync(probeFile) ? readFileSync(probeFile, "utf8").trim().split("\n").filter(Boolean) : []);
  const probe = async (v) => {
    const before = lines().length;
    if (SNAPS.has(v)) writeFileSync(`${probeFile}.snapshot-next`, "");
    agent.kill("SIGUSR2");
    await waitUntil(() => lines().length > before, 60_000, "the probe", 20);
    const line = JSON.parse(lines().at(-1));
    say(`after ${v} reloads: heap ${line.heap_used_mb.toFixed(2)} MB, rss ${line.rss_mb.toFixed(1)} MB, ext ${line.external_mb.toFixed(2)}, malloced ${line.malloced_mb.toFixed(2)} ${JSON.stringify(line.handles)}`);
  };
  await sleep(2000);
  await client.publish(moduleItem("reload-mod", 1, { groups: ["reload"] }));
  await waitUntil(() => runs(1), 30_000, "v1", 20);
  await sleep(2000);
  await probe(0);
  for (let v = 2; v <= N + 1; v++) {
    await client.publish(moduleItem("reload-mod", v, { groups: ["reload"] }));
    await waitUntil(() => runs(v), 30_000, `v${v}`, 20);
    if ((v - 1) % EVERY === 0) {
      await sleep(1500);
      await probe(v - 1);
    }
  }
} finally {
  await client?.stop().catch(() => {});
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  await sleep(500);
  await ejabberd.destroy().catch(() => {});
  await deletePrefix(redis, prefix);
  redis.disconnect();
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
