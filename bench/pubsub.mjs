#!/usr/bin/env node
/**
 * bench:pubsub — publish → notification throughput and latency, one
 * subscriber, at 100, 10,000 and 100,000 nodes: jabmon's pubsub component vs
 * ejabberd's mod_pubsub, on one private ejabberd, same payloads, same clients,
 * same in-flight window. Writes bench/results/pubsub.json.
 *
 * Run after `npm run build`: `npm run bench:pubsub`. Knobs (env):
 *   BENCH_SIZES=100,10000,100000  BENCH_WINDOW=128  BENCH_PUBLISHES=5000  BENCH_ROUNDS=3
 *   BENCH_EJABBERD_SETUP_S=300 (setup budget per size for mod_pubsub; see below)
 *   BENCH_KINDS=plain,agent (our node kinds)  BENCH_ONLY=ours (skip mod_pubsub)
 *   (either of the last two makes a partial run: printed, not written)
 *   JABMON_REDIS_URL=redis://127.0.0.1:6379
 *
 * How it measures: one publisher client keeps BENCH_WINDOW publishes in flight
 * (a fleet keeps far more: 10,000 agents with a few each), so throughput is
 * the system's at saturation; each publish goes to a random one of the N
 * nodes; one subscriber (subscribed to all N) timestamps each notification.
 * Latency = publish sent → notification received; throughput = publishes /
 * wall time of the measured run (after a warm-up). At each size the systems
 * take turns for BENCH_ROUNDS rounds, and results are medians; each round's
 * ratio is kept, so the spread shows. Nodes accumulate across sizes
 * (100 → 10,000 → 100,000), so at size N exactly N exist.
 *
 * Setup (not measured): mod_pubsub nodes and subscriptions are made by IQs;
 * ours are written straight to Redis with the service's own scripts (faster).
 * XEP-0198 is off in the bench's ejabberd (ejabberd 23.01 + xmpp.js stalls
 * with many IQs in flight, see ejabberd-notes).
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
const { coalesceWrites } = await import(dist("net/index.js"));
const { registerAccount } = await import(dist("xmpp/index.js"));

const SIZES = (process.env.BENCH_SIZES ?? "100,10000,100000").split(",").map(Number);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 128);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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
  `<check xmlns='urn:jabmon:0' time='2026-11-25T23:50:00.000Z' name='disk_var' state='ok' duration_ms='12' k='${k}'>` +
  "<output>DISK OK - free space: /var 41% (inode=88%)</output>" +
  `<metric name='/var' value='${k % 100}' uom='%' warn='90' crit='95' min='0' max='100'/></check>`;

const publishIq = (to, id, node, k) =>
  `<iq type='set' to='${to}' id='${id}'><pubsub xmlns='${NS_PUBSUB}'><publish node='${node}'><item id='${id}'>${payload(k)}</item></publish></pubsub></iq>`;

/**
 * The load generator's lean wire path, for the measured runs only. Parsing
 * every stanza into elements and serialising every publish cost the generator
 * ~100 µs of CPU per publish: on two cores that is CPU taken from the systems
 * under test, and more of it from the lighter one. So while a run lasts, the
 * client's socket gets pre-formatted publishes, and its input is split into
 * top-level stanzas by a pattern and handed over as strings. Connection,
 * login and setup stay with xmpp.js. Returns a function that gives the
 * client its parser back (with any partial stanza still buffered).
 */
const TOP_LEVEL_STANZA = /<(iq|message|presence)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/g;
function tapStanzas(xmpp, onStanza) {
  const parser = xmpp.parser;
  let buffer = "";
  parser.write = (chunk) => {
    buffer += chunk;
    TOP_LEVEL_STANZA.lastIndex = 0;
    let end = 0;
    for (let m = TOP_LEVEL_STANZA.exec(buffer); m; m = TOP_LEVEL_STANZA.exec(buffer)) {
      end = TOP_LEVEL_STANZA.lastIndex;
      onStanza(m[0]);
    }
    buffer = buffer.slice(end);
  };
  return () => {
    delete parser.write;
    if (buffer) parser.write(buffer);
  };
}

const attr = (stanza, name) => new RegExp(`\\s${name}='([^']*)'`).exec(stanza)?.[1];
const ITEM_ID = /<item\b[^>]*?\sid='([^']*)'/;

async function connect(ej, account) {
  const xmpp = client({
    service: ej.c2sService,
    domain: "localhost",
    username: account.user,
    password: account.password,
    resource: "bench",
  });
  xmpp.on("error", () => {});
  // As the component's link: no Nagle delay on small stanzas, and the writes of
  // one event-loop turn in one syscall (same for both systems).
  xmpp.on("connect", () => {
    xmpp.socket?.setNoDelay?.(true);
    if (xmpp.socket) coalesceWrites(xmpp.socket);
  });
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

const sumCpu = (cpu) => Object.values(cpu).reduce((a, b) => a + b, 0);

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
  const write = (text) => pub.socket.write(text);
  let sent = 0;
  let completed = 0;
  let errors = 0;
  let untapSub;
  let untapPub;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      untapSub();
      untapPub();
      reject(new Error(`stalled at ${completed}/${count}`));
    }, 120_000);
    const finish = () => {
      completed++;
      if (completed === count) {
        clearTimeout(timer);
        untapSub();
        untapPub();
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
    const onEvent = (stanza) => {
      if (!stanza.startsWith("<message")) return;
      const id = ITEM_ID.exec(stanza)?.[1];
      const t = id && started.get(id);
      if (t === undefined) return;
      started.delete(id);
      latencies.push(performance.now() - t);
      finish();
    };
    const onIq = (stanza) => {
      if (!stanza.startsWith("<iq") || attr(stanza, "type") !== "error") return;
      const id = attr(stanza, "id");
      if (started.has(id)) {
        errors++;
        started.delete(id);
        finish();
      }
    };
    untapSub = tapStanzas(sub, onEvent);
    untapPub = tapStanzas(pub, onIq);
    let idCounter = 0;
    const idBase = randomBytes(4).toString("hex");
    const pump = () => {
      while (sent < count && sent - completed < WINDOW) {
        const id = `b${idBase}${(idCounter++).toString(36)}`;
        const node = nodeName(Math.floor(Math.random() * nodes));
        started.set(id, performance.now());
        write(publishIq(to, id, node, sent));
        sent++;
      }
    };
    pump();
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
};

/**
 * Wait until ejabberd and the component are idle (each under 5% of a core over
 * 250 ms). After a run on agent nodes the monitor may still be working through
 * the ingest stream, and after mass node creation mnesia dumps its log: that
 * CPU must not be charged to the next measurement, whichever system it is.
 */
async function settle(pids, maxMs = 120_000) {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const before = pids.map(processCpuSeconds);
    await new Promise((r) => setTimeout(r, 250));
    if (pids.every((pid, i) => processCpuSeconds(pid) - before[i] < 0.0125)) return;
  }
  log(`ejabberd or the component still busy after ${maxMs / 1000} s; measuring anyway`);
}

async function main() {
  const prefix = `jabmon-bench:${randomUUID()}:`;
  const password = randomBytes(8).toString("hex");
  const ej = await PrivateEjabberd.create({
    name: "benchps",
    c2sPort: await freePort(),
    componentPort: await freePort(),
    componentPassword: password,
    // Plain TCP on loopback, explicitly: the comparison measures pubsub, not TLS, for both systems.
    tls: "none",
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
    rounds: ROUNDS,
    cpu_cores: (await import("node:os")).cpus().length,
    // Other work on the machine skews both systems; keep it visible next to the numbers.
    loadavg_1m_at_start: Number((await import("node:os")).loadavg()[0].toFixed(2)),
  };
  let componentProcess;
  let confDir;
  try {
    const mk = async (user) => {
      const pw = randomBytes(8).toString("hex");
      await registerAccount(ej.c2sService, "localhost", user, pw, { insecure: true });
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

    // Two kinds of our node: plain nodes measure the pubsub service alone (what
    // mod_pubsub does); agent nodes (`agents/<jid>`) add what the monitor needs
    // per publish: the ingest-stream entry, and the monitor processing and
    // scoring it in the same component process.
    const wantedKinds = (process.env.BENCH_KINDS ?? "plain,agent").split(",");
    const ourKinds = Object.entries({ plain: (i) => `bench/node${i}`, agent: (i) => `agents/bench${i}@localhost` }).filter(
      ([kind]) => wantedKinds.includes(kind),
    );
    const withEjabberd = process.env.BENCH_ONLY !== "ours";
    const config = ["title", "", "max_items", "1000", "persist_items", "1", "access_model", "open", "publish_model", "publishers", "notify_retract", "1", "notify_delete", "1", "item_expire", "0"];
    const ejNode = (i) => `bench${i}`;
    let ourMade = 0;
    let ejMade = 0;
    for (const size of SIZES) {
      // --- setup, not measured: nodes accumulate across sizes ---
      const t = Date.now();
      for (const [kind, ourNode] of ourKinds) {
        for (let from = ourMade; from < size; from += 2000) {
          const batch = [];
          for (let i = from; i < Math.min(size, from + 2000); i++) {
            batch.push(
              store
                .create(ourNode(i), `bench${i}@localhost`, kind === "agent", config)
                .then(() => store.setSubscription(ourNode(i), { jid: subAccount.jid, state: "subscribed", subid: randomUUID(), deliver: true })),
            );
          }
          await Promise.all(batch);
        }
      }
      ourMade = size;
      log(`ours: ${size} nodes of each kind ready in ${Date.now() - t} ms`);
      if (withEjabberd && ejMade < size) {
        const te = Date.now();
        const created = await iqFlood(pub, size - ejMade, 64, (k, id) =>
          xml("iq", { type: "set", to: MOD_PUBSUB, id }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("create", { node: ejNode(ejMade + k) }))),
          te + EJ_SETUP_BUDGET_MS,
        );
        const subscribed = await iqFlood(sub, created.done, 64, (k, id) =>
          xml("iq", { type: "set", to: MOD_PUBSUB, id }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("subscribe", { node: ejNode(ejMade + k), jid: subAccount.jid }))),
        );
        ejMade += created.done;
        const setupMs = Date.now() - te;
        log(`ejabberd: ${ejMade} nodes ready in ${setupMs} ms (create errors ${created.errors}, subscribe errors ${subscribed.errors})`);
        results[`ejabberd_${size}_nodes_setup_s`] = Math.round(setupMs / 1000);
        if (ejMade < size) {
          results[`ejabberd_${size}_nodes_actual_nodes`] = ejMade;
          log(`ejabberd: setup budget ${EJ_SETUP_BUDGET_MS / 1000} s reached at ${ejMade} nodes; measuring with those`);
        }
      }

      // --- measured: the systems take turns, round after round, so a slow
      // spell of the shared machine falls on all of them, not on one ---
      const systems = [
        ...ourKinds.map(([kind, ourNode]) => ({
          key: kind === "agent" ? `ours_${size}_nodes` : `ours_plain_${size}_nodes`,
          label: `ours ${kind}`,
          to: COMPONENT,
          node: ourNode,
          nodes: size,
          procs: { ejabberdPid, componentPid: componentProcess.pid, redis },
        })),
        ...(withEjabberd ? [{ key: `ejabberd_${size}_nodes`, label: "ejabberd mod_pubsub", to: MOD_PUBSUB, node: ejNode, nodes: ejMade, procs: { ejabberdPid, redis } }] : []),
      ];
      const runs = new Map(systems.map((system) => [system.key, []]));
      for (const system of systems) await measure(pub, sub, system.to, system.node, system.nodes, WARMUP);
      for (let round = 1; round <= ROUNDS; round++) {
        for (const system of systems) {
          await settle([ejabberdPid, componentProcess.pid]);
          const r = await measure(pub, sub, system.to, system.node, system.nodes, PUBLISHES, system.procs);
          runs.get(system.key).push(r);
          log(`round ${round} ${system.label} ${size} nodes: ${r.perSecond.toFixed(0)}/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms errors ${r.errors} cpu µs/publish ${JSON.stringify(r.cpu)}`);
        }
      }
      for (const [key, rs] of runs) {
        results[`${key}_per_s`] = Math.round(median(rs.map((r) => r.perSecond)));
        results[`${key}_p50_ms`] = Number(median(rs.map((r) => r.p50)).toFixed(2));
        results[`${key}_p99_ms`] = Number(median(rs.map((r) => r.p99)).toFixed(2));
        results[`${key}_errors`] = rs.reduce((sum, r) => sum + r.errors, 0);
        recordCpu(results, key, Object.fromEntries(Object.keys(rs[0].cpu).map((proc) => [proc, median(rs.map((r) => r.cpu[proc]))])));
      }
      // Ratios per round (the systems ran back to back), then their spread.
      const theirs = runs.get(`ejabberd_${size}_nodes`);
      for (const [kind, key] of [["plain", `ours_plain_${size}_nodes`], ["agent", `ours_${size}_nodes`]]) {
        const ours = runs.get(key);
        if (!ours || !theirs) continue;
        const ratios = ours.map((r, i) => r.perSecond / theirs[i].perSecond);
        const cpuRatios = ours.map((r, i) => sumCpu(theirs[i].cpu) / sumCpu(r.cpu));
        results[`ratio_${kind}_vs_ejabberd_${size}_nodes`] = Number(median(ratios).toFixed(2));
        results[`ratio_${kind}_vs_ejabberd_${size}_nodes_min`] = Number(Math.min(...ratios).toFixed(2));
        results[`ratio_${kind}_vs_ejabberd_${size}_nodes_max`] = Number(Math.max(...ratios).toFixed(2));
        results[`cpu_ratio_${kind}_vs_ejabberd_${size}_nodes`] = Number(median(cpuRatios).toFixed(2));
        process.stdout.write(
          `${size} nodes, ours (${kind === "plain" ? "plain nodes, pubsub alone" : "agent nodes, with monitoring"}) vs mod_pubsub: ` +
            `throughput ${median(ratios).toFixed(2)}x (rounds ${ratios.map((x) => x.toFixed(2)).join(", ")}), ` +
            `CPU per publish ${median(cpuRatios).toFixed(2)}x less\n`,
        );
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
  if (process.env.BENCH_ONLY === "ours" || process.env.BENCH_KINDS) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n(partial run: bench/results/pubsub.json not written)\n`);
    return;
  }
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
