#!/usr/bin/env node
/**
 * bench:pubsub — publish → notification throughput and latency, one
 * subscriber, at 100, 10,000 and 100,000 nodes: jabmon's pubsub component vs
 * ejabberd's mod_pubsub, on one private ejabberd, same payloads, same clients,
 * same in-flight window. Writes bench/results/pubsub.json.
 *
 * Run after `npm run build`: `npm run bench:pubsub`. Knobs (env):
 *   BENCH_SIZES=100,10000,100000  BENCH_WINDOW=32  BENCH_PUBLISHES=5000
 *   BENCH_EJABBERD_SETUP_S=300 (setup budget per size for mod_pubsub; see below)
 *   JABMON_REDIS_URL=redis://127.0.0.1:6379
 *
 * How it measures: one publisher client keeps BENCH_WINDOW publishes in flight;
 * each publish goes to a random one of the N nodes; one subscriber (subscribed
 * to all N) timestamps each notification. Latency = publish sent → notification
 * received; throughput = publishes / wall time of the measured run (after a warm-up).
 * Nodes accumulate across sizes (100 → 10,000 → 100,000), so at size N exactly N exist.
 *
 * Setup (not measured): mod_pubsub nodes and subscriptions are made by IQs;
 * ours are written straight to Redis with the service's own scripts (faster),
 * and our nodes are `agents/<jid>` nodes so every publish also does the
 * ingest-stream XADD the monitor needs. XEP-0198 is off in the bench's ejabberd
 * (ejabberd 23.01 + xmpp.js stalls with many IQs in flight, see ejabberd-notes).
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { client, xml } from "@xmpp/client";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = (p) => join(root, "dist", p);
const { freePort, PrivateEjabberd } = await import(dist("stack/index.js"));
const { createRedis, deletePrefix, Keys } = await import(dist("store/index.js"));
const { PubsubStore } = await import(dist("pubsub/index.js"));
const { silentLogger } = await import(dist("log/index.js"));
const { registerAccount } = await import(dist("xmpp/index.js"));

const SIZES = (process.env.BENCH_SIZES ?? "100,10000,100000").split(",").map(Number);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 32);
const PUBLISHES = Number(process.env.BENCH_PUBLISHES ?? 5000);
const WARMUP = Math.min(1000, Math.ceil(PUBLISHES / 5));
const EJ_SETUP_BUDGET_MS = Number(process.env.BENCH_EJABBERD_SETUP_S ?? 300) * 1000;
const REDIS_URL = process.env.JABMON_REDIS_URL ?? "redis://127.0.0.1:6379";
const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
const COMPONENT = "monitor.localhost";
const MOD_PUBSUB = "pubsub.localhost";

const log = (line) => process.stderr.write(`bench:pubsub ${line}\n`);


// The metric value varies per publish (as real results do), so the monitor's
// per-item work cannot be cut short by "nothing changed" shortcuts.
const payload = (k) =>
  xml(
    "check",
    { xmlns: "urn:jabmon:0", time: "2026-11-25T23:50:00.000Z", name: "disk_var", state: "ok", duration_ms: "12", k: String(k) },
    xml("output", {}, "DISK OK - free space: /var 41% (inode=88%)"),
    xml("metric", { name: "/var", value: String(k % 100), uom: "%", warn: "90", crit: "95", min: "0", max: "100" }),
  );

async function connect(ej, account) {
  const xmpp = client({
    service: ej.c2sService,
    domain: "localhost",
    username: account.user,
    password: account.password,
    resource: "bench",
  });
  xmpp.on("error", () => {});
  // As the component's link: no Nagle delay on small stanzas (same for both systems).
  xmpp.on("connect", () => xmpp.socket?.setNoDelay?.(true));
  await xmpp.start();
  await xmpp.send(xml("presence"));
  return xmpp;
}

/** Send many IQs with a window; resolves with the number of errors. */
async function iqFlood(xmpp, count, window, build, deadline = Number.POSITIVE_INFINITY) {
  let next = 0;
  let done = 0;
  let errors = 0;
  const pending = new Map();
  return new Promise((resolve) => {
    const onStanza = (s) => {
      if (!s.is("iq") || !pending.has(s.attrs.id)) return;
      pending.delete(s.attrs.id);
      if (s.attrs.type === "error") errors++;
      done++;
      pump();
    };
    xmpp.on("stanza", onStanza);
    const pump = () => {
      if (done === next && (next === count || Date.now() > deadline)) {
        xmpp.removeListener("stanza", onStanza);
        resolve({ done, errors });
        return;
      }
      while (next < count && next - done < window && Date.now() <= deadline) {
        const id = `f${next}-${randomBytes(3).toString("hex")}`;
        pending.set(id, true);
        xmpp.send(build(next, id)).catch(() => {});
        next++;
      }
    };
    pump();
  });
}

/**
 * CPU seconds (user + system) used so far by each process of the system under
 * test: ejabberd, the component (when running), Redis, and this load generator.
 * Throughput on two shared cores is noisy; CPU time per publish is not, and it
 * shows what each publish costs whichever process pays for it.
 */
const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64
function processCpuSeconds(pid) {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}
async function redisCpuSeconds(redis) {
  const info = await redis.info("cpu");
  const field = (name) => Number(info.match(new RegExp(`${name}:([\\d.]+)`))?.[1] ?? 0);
  return field("used_cpu_sys") + field("used_cpu_user");
}
async function cpuSnapshot(procs) {
  const own = process.cpuUsage();
  return {
    ejabberd: processCpuSeconds(procs.ejabberdPid),
    component: processCpuSeconds(procs.componentPid),
    redis: await redisCpuSeconds(procs.redis),
    generator: (own.user + own.system) / 1e6,
  };
}

/** Flat result keys: CPU µs per publish for each process and in total. */
function recordCpu(results, key, cpu) {
  if (!cpu) return;
  let total = 0;
  for (const [proc, us] of Object.entries(cpu)) {
    results[`${key}_cpu_us_per_publish_${proc}`] = us;
    total += us;
  }
  results[`${key}_cpu_us_per_publish`] = total;
}

/** The measured run: WINDOW publishes in flight, each completed by its notification. */
async function measure(pub, sub, to, nodeName, nodes, count, procs) {
  const cpuBefore = procs ? await cpuSnapshot(procs) : undefined;
  const started = new Map();
  const latencies = [];
  let sent = 0;
  let completed = 0;
  let errors = 0;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stalled at ${completed}/${count}`)), 120_000);
    const finish = () => {
      completed++;
      if (completed === count) {
        clearTimeout(timer);
        sub.removeListener("stanza", onEvent);
        pub.removeListener("stanza", onIq);
        const seconds = (performance.now() - t0) / 1000;
        latencies.sort((a, b) => a - b);
        const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
        const result = { perSecond: count / seconds, p50: q(0.5), p99: q(0.99), errors };
        if (!cpuBefore) return resolve(result);
        cpuSnapshot(procs).then((cpuAfter) => {
          const usPerPublish = (k) => Math.round(((cpuAfter[k] - cpuBefore[k]) * 1e6) / count);
          result.cpu = Object.fromEntries(Object.keys(cpuAfter).map((k) => [k, usPerPublish(k)]));
          resolve(result);
        }, reject);
      } else pump();
    };
    const onEvent = (s) => {
      if (!s.is("message")) return;
      const item = s.getChild("event", NS_EVENT)?.getChild("items")?.getChild("item");
      const t = item && started.get(item.attrs.id);
      if (t === undefined) return;
      started.delete(item.attrs.id);
      latencies.push(performance.now() - t);
      finish();
    };
    const onIq = (s) => {
      if (s.is("iq") && s.attrs.type === "error" && started.has(s.attrs.id)) {
        errors++;
        started.delete(s.attrs.id);
        finish();
      }
    };
    sub.on("stanza", onEvent);
    pub.on("stanza", onIq);
    const pump = () => {
      while (sent < count && sent - completed < WINDOW) {
        const id = `b${randomBytes(6).toString("hex")}`;
        const node = nodeName(Math.floor(Math.random() * nodes));
        started.set(id, performance.now());
        pub
          .send(xml("iq", { type: "set", to, id }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("publish", { node }, xml("item", { id }, payload(sent))))))
          .catch(() => {});
        sent++;
      }
    };
    pump();
  });
}

async function main() {
  const prefix = `jabmon-bench:${randomUUID()}:`;
  const password = randomBytes(8).toString("hex");
  const ej = await PrivateEjabberd.create({
    name: "benchps",
    c2sPort: await freePort(),
    componentPort: await freePort(),
    componentPassword: password,
  });
  // No XEP-0198 in the bench (see header); everything else as the test stack.
  const yamlPath = join(ej.dir, "conf", "ejabberd.yml");
  const yaml = readFileSync(yamlPath, "utf8").replace(/ {2}mod_stream_mgmt:\n {4}resume_timeout: 0\n/, "");
  writeFileSync(yamlPath, yaml);
  await ej.start();
  const ejabberdPid = Number(readFileSync(join(ej.dir, "spool", "ejabberd.pid"), "utf8").trim());
  const redis = createRedis(REDIS_URL, silentLogger());
  const keys = new Keys(prefix);
  const store = new PubsubStore(redis, keys);
  const results = {
    window: WINDOW,
    publishes_per_run: PUBLISHES,
    cpu_cores: (await import("node:os")).cpus().length,
    // Other work on the machine skews both systems; keep it visible next to the numbers.
    loadavg_1m_at_start: Number((await import("node:os")).loadavg()[0].toFixed(2)),
  };
  let componentProcess;
  let confDir;
  try {
    const mk = async (user) => {
      const pw = randomBytes(8).toString("hex");
      await registerAccount(ej.c2sService, "localhost", user, pw);
      return { user, password: pw, jid: `${user}@localhost` };
    };
    const pubAccount = await mk(`pub${randomBytes(3).toString("hex")}`);
    const subAccount = await mk(`sub${randomBytes(3).toString("hex")}`);

    confDir = join(tmpdir(), `jabmon-bench-${process.pid}`);
    mkdirSync(confDir, { recursive: true });
    const confFile = join(confDir, "component.json");
    writeFileSync(
      confFile,
      JSON.stringify({
        xmpp: { service: ej.componentService, jid: COMPONENT, password },
        redis: { url: REDIS_URL, prefix },
        http: { enabled: false },
        monitor: { agentDomains: ["localhost"] },
        pubsub: { admins: [pubAccount.jid] },
      }),
    );
    const nodeArgs = (process.env.BENCH_COMPONENT_NODE_ARGS ?? "").split(" ").filter(Boolean);
    componentProcess = spawn(process.execPath, [...nodeArgs, dist("cli/main.js"), "component", "-c", confFile], {
      env: { ...process.env, JABMON_LOG_LEVEL: "warn" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    await new Promise((r) => setTimeout(r, 1500));

    const pub = await connect(ej, pubAccount);
    const sub = await connect(ej, subAccount);

    // --- ours ---
    // Two kinds of node: plain nodes measure the pubsub service alone (what
    // mod_pubsub does); agent nodes (`agents/<jid>`) add what the monitor needs
    // per publish: the ingest-stream entry, and the monitor processing and
    // scoring it in the same component process.
    const kinds = { plain: (i) => `bench/node${i}`, agent: (i) => `agents/bench${i}@localhost` };
    const config = ["title", "", "max_items", "1000", "persist_items", "1", "access_model", "open", "publish_model", "publishers", "notify_retract", "1", "notify_delete", "1", "item_expire", "0"];
    for (const [kind, ourNode] of Object.entries(kinds)) {
      let made = 0;
      for (const size of SIZES) {
        const t = Date.now();
        while (made < size) {
          const batch = [];
          for (let i = made; i < Math.min(size, made + 2000); i++) {
            batch.push(
              store
                .create(ourNode(i), `bench${i}@localhost`, kind === "agent", config)
                .then(() => store.setSubscription(ourNode(i), { jid: subAccount.jid, state: "subscribed", subid: randomUUID(), deliver: true })),
            );
          }
          await Promise.all(batch);
          made = Math.min(size, made + 2000);
        }
        log(`ours (${kind} nodes): ${size} nodes ready in ${Date.now() - t} ms`);
        await measure(pub, sub, COMPONENT, ourNode, size, WARMUP);
        const procs = { ejabberdPid, componentPid: componentProcess.pid, redis };
        const r = await measure(pub, sub, COMPONENT, ourNode, size, PUBLISHES, procs);
        log(`ours ${kind} ${size} nodes: ${r.perSecond.toFixed(0)}/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms errors ${r.errors}`);
        const key = kind === "agent" ? `ours_${size}_nodes` : `ours_plain_${size}_nodes`;
        results[`${key}_per_s`] = Math.round(r.perSecond);
        results[`${key}_p50_ms`] = Number(r.p50.toFixed(2));
        results[`${key}_p99_ms`] = Number(r.p99.toFixed(2));
        results[`${key}_errors`] = r.errors;
        recordCpu(results, key, r.cpu);
      }
    }
    componentProcess.kill("SIGINT");
    await new Promise((r) => componentProcess.once("exit", r));
    componentProcess = undefined;
    if (process.env.BENCH_ONLY === "ours") throw new Error("BENCH_ONLY=ours: stopping before mod_pubsub");

    // --- ejabberd mod_pubsub ---
    const ejNode = (i) => `bench${i}`;
    let ejMade = 0;
    let capped = false;
    for (const size of SIZES) {
      if (capped) break;
      const t = Date.now();
      const deadline = t + EJ_SETUP_BUDGET_MS;
      const want = size - ejMade;
      const created = await iqFlood(pub, want, 64, (k, id) =>
        xml("iq", { type: "set", to: MOD_PUBSUB, id }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("create", { node: ejNode(ejMade + k) }))),
        deadline,
      );
      const subscribed = await iqFlood(sub, created.done, 64, (k, id) =>
        xml("iq", { type: "set", to: MOD_PUBSUB, id }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("subscribe", { node: ejNode(ejMade + k), jid: subAccount.jid }))),
      );
      ejMade += created.done;
      const setupMs = Date.now() - t;
      log(`ejabberd: ${ejMade} nodes ready in ${setupMs} ms (create errors ${created.errors}, subscribe errors ${subscribed.errors})`);
      results[`ejabberd_${size}_nodes_setup_s`] = Math.round(setupMs / 1000);
      if (ejMade < size) {
        capped = true;
        results[`ejabberd_${size}_nodes_actual_nodes`] = ejMade;
        log(`ejabberd: setup budget ${EJ_SETUP_BUDGET_MS / 1000} s reached at ${ejMade} nodes; measuring with those`);
      }
      await measure(pub, sub, MOD_PUBSUB, ejNode, ejMade, WARMUP);
      const r = await measure(pub, sub, MOD_PUBSUB, ejNode, ejMade, PUBLISHES, { ejabberdPid, redis });
      log(`ejabberd ${size} nodes: ${r.perSecond.toFixed(0)}/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms errors ${r.errors}`);
      results[`ejabberd_${size}_nodes_per_s`] = Math.round(r.perSecond);
      results[`ejabberd_${size}_nodes_p50_ms`] = Number(r.p50.toFixed(2));
      results[`ejabberd_${size}_nodes_p99_ms`] = Number(r.p99.toFixed(2));
      results[`ejabberd_${size}_nodes_errors`] = r.errors;
      recordCpu(results, `ejabberd_${size}_nodes`, r.cpu);
    }
    for (const size of SIZES) {
      const ours = results[`ours_${size}_nodes_per_s`];
      const theirs = results[`ejabberd_${size}_nodes_per_s`];
      if (ours && theirs) {
        results[`ratio_vs_ejabberd_${size}_nodes`] = Number((ours / theirs).toFixed(2));
        process.stdout.write(`${size} nodes: ours (agent nodes, with monitoring) ${ours}/s vs mod_pubsub ${theirs}/s = ${(ours / theirs).toFixed(2)}x\n`);
      }
      for (const [kind, key] of [["plain", `ours_plain_${size}_nodes`], ["agent", `ours_${size}_nodes`]]) {
        const ourCpu = results[`${key}_cpu_us_per_publish`];
        const theirCpu = results[`ejabberd_${size}_nodes_cpu_us_per_publish`];
        if (ourCpu && theirCpu) {
          results[`cpu_ratio_${kind}_vs_ejabberd_${size}_nodes`] = Number((theirCpu / ourCpu).toFixed(2));
          process.stdout.write(`${size} nodes: CPU per publish, all processes: ours (${kind}) ${ourCpu} µs vs mod_pubsub ${theirCpu} µs = ${(theirCpu / ourCpu).toFixed(2)}x less\n`);
        }
      }
      const plain = results[`ours_plain_${size}_nodes_per_s`];
      if (plain && theirs) {
        results[`ratio_plain_vs_ejabberd_${size}_nodes`] = Number((plain / theirs).toFixed(2));
        process.stdout.write(`${size} nodes: ours (plain nodes, pubsub alone) ${plain}/s vs mod_pubsub ${theirs}/s = ${(plain / theirs).toFixed(2)}x\n`);
      }
    }
    await pub.stop().catch(() => {});
    await sub.stop().catch(() => {});
  } finally {
    if (componentProcess) {
      const exited = new Promise((r) => componentProcess.once("exit", r));
      componentProcess.kill("SIGTERM");
      await exited;
    }
    await ej.destroy();
    // After the component has exited, so it writes nothing more under the prefix.
    await deletePrefix(redis, prefix);
    if (confDir) rmSync(confDir, { recursive: true, force: true });
    redis.disconnect();
  }
  results.loadavg_1m_at_end = Number((await import("node:os")).loadavg()[0].toFixed(2));
  mkdirSync(join(root, "bench", "results"), { recursive: true });
  writeFileSync(join(root, "bench", "results", "pubsub.json"), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`failed: ${err.stack ?? err}`);
    process.exit(1);
  },
);
