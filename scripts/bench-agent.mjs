// npm run bench:agent [-- --duration 600] [--variants bundle,...] [--node-flags "--cpu-prof"] — the host agent's memory and CPU with 20 checks
// at a 10 s interval, side by side with Debian's prometheus-node-exporter (scraped every
// 10 s, as Prometheus would), measured the same way in the same run: VmRSS and RssAnon
// from /proc/PID/status, CPU from utime+stime in /proc/PID/stat. Several agent builds
// run at once (tsc output, bundle, bundle + V8 flags) so each step is measured under the
// same conditions. Writes bench/results/agent.json (flat, units in key names).
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const durationS = Number(arg("duration", 600));
const sampleS = 5;
const EXPORTER = "/usr/bin/prometheus-node-exporter";

if (!existsSync(EXPORTER)) {
  console.log("installing prometheus-node-exporter with apt…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { env, stdio: "inherit" });
  execFileSync("apt-get", ["install", "-y", "-qq", "prometheus-node-exporter"], {
    env,
    stdio: "inherit",
  });
}
execFileSync("npx", ["tsc", "-p", "."], { cwd: root, stdio: "inherit" });
execFileSync(process.execPath, [join(root, "scripts", "bundle-agent.mjs")], {
  cwd: root,
  stdio: "inherit",
});

const { PrivateEjabberd } = await import(join(root, "dist", "stack", "index.js"));
const { componentLink } = await import(join(root, "dist", "component", "index.js"));
const { silentLogger } = await import(join(root, "dist", "log", "index.js"));
const { registerAccount } = await import(join(root, "dist", "xmpp", "index.js"));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const ejabberd = await PrivateEjabberd.create({
  name: "bench-agent",
  c2sPort: await freePort(),
  componentPort: await freePort(),
  componentPassword: randomBytes(8).toString("hex"),
});
await ejabberd.start();
// A publish endpoint answering like the pubsub service (the same stand-in as test/helpers/sink.ts).
const link = componentLink({
  service: ejabberd.componentService,
  domain: "monitor.localhost",
  password: ejabberd.config.componentPassword,
  log: silentLogger(),
});
let published = 0;
link.router.set("http://jabber.org/protocol/pubsub", "pubsub", () => {
  published++;
  return true;
});
await link.start();

const work = mkdtempSync(join(tmpdir(), "jabmon-bench-"));
const P = "/usr/lib/nagios/plugins";
const checks = [
  "{ name: cpu, type: cpu, warn: 90, crit: 98 }",
  "{ name: load, type: load, perCpu: true, warn: 2, crit: 4 }",
  "{ name: memory, type: memory, warn: 90, crit: 95 }",
  "{ name: swap, type: swap, warn: 50, crit: 80 }",
  "{ name: disk, type: disk, warn: 90, crit: 95 }",
  "{ name: disk_root, type: disk, mounts: [/], warn: 90, crit: 95 }",
  "{ name: network, type: network }",
  "{ name: uptime, type: uptime, warn: 600 }",
  "{ name: proc_ejabberd, type: process, process: beam.smp }",
  "{ name: proc_init, type: process, process: node, min: 1 }",
  `{ name: tcp_xmpp, type: tcp, port: ${ejabberd.config.c2sPort}, warn: 500 }`,
  "{ name: tcp_closed, type: tcp, port: 1 }",
  `{ name: nagios_load, type: nagios, command: ${P}/check_load, args: [-w, "5,4,3", -c, "10,8,6"] }`,
  `{ name: nagios_disk, type: nagios, command: ${P}/check_disk, args: [-w, "10%", -c, "5%", -p, /] }`,
  `{ name: nagios_procs, type: nagios, command: ${P}/check_procs, args: [-w, "500", -c, "1000"] }`,
  `{ name: nagios_users, type: nagios, command: ${P}/check_users, args: [-w, "5", -c, "10"] }`,
  `{ name: nagios_swap, type: nagios, command: ${P}/check_swap, args: [-w, "50%", -c, "20%"] }`,
  `{ name: nagios_tcp, type: nagios, command: ${P}/check_tcp, args: [-H, 127.0.0.1, -p, "${ejabberd.config.c2sPort}"] }`,
  `{ name: nagios_dummy, type: nagios, command: ${P}/check_dummy, args: ["0", "fine"] }`,
  "{ name: memory2, type: memory, warn: 95, crit: 99 }",
];

const variants = [
  { name: "tsc", argv: [join(root, "dist", "cli", "main.js"), "agent"] },
  { name: "bundle", argv: [join(root, "dist", "jabmon-agent.mjs")] },
  {
    name: "bundle_heapflags",
    argv: [
      "--max-semi-space-size=1",
      "--max-old-space-size=64",
      join(root, "dist", "jabmon-agent.mjs"),
    ],
  },
  {
    name: "bundle_heapflags_lite",
    argv: [
      "--max-semi-space-size=1",
      "--max-old-space-size=64",
      "--lite-mode",
      "--no-expose-wasm",
      join(root, "dist", "jabmon-agent.mjs"),
    ],
  },
  {
    name: "bundle_lite_fewthreads",
    argv: [
      "--max-semi-space-size=1",
      "--max-old-space-size=64",
      "--lite-mode",
      "--no-expose-wasm",
      "--v8-pool-size=1",
      join(root, "dist", "jabmon-agent.mjs"),
    ],
    env: { UV_THREADPOOL_SIZE: "2" },
  },
  {
    name: "bundle_lite_fewthreads_arena",
    argv: [
      "--max-semi-space-size=1",
      "--max-old-space-size=64",
      "--lite-mode",
      "--no-expose-wasm",
      "--v8-pool-size=1",
      join(root, "dist", "jabmon-agent.mjs"),
    ],
    env: { UV_THREADPOOL_SIZE: "2", MALLOC_ARENA_MAX: "1" },
  },
  // What ships: the bundle run through its own shebang line (scripts/bundle-agent.mjs).
  { name: "shipped", exec: join(root, "dist", "jabmon-agent.mjs"), argv: [] },
];

const only = arg("variants", "").split(",").filter(Boolean);
const extraFlags = arg("node-flags", "").split(" ").filter(Boolean);
const procs = [];
for (const v of variants.filter((x) => only.length === 0 || only.includes(x.name))) {
  const user = `bench-${v.name.replace(/_/g, "-")}`;
  const password = randomBytes(8).toString("hex");
  await registerAccount(ejabberd.c2sService, "localhost", user, password, {
    caFile: ejabberd.caFile,
  });
  const dir = join(work, v.name);
  const config = join(work, `${v.name}.yml`);
  writeFileSync(
    config,
    [
      `xmpp: { service: "${ejabberd.c2sService}", jid: ${user}@localhost, password: ${password}, caFile: "${ejabberd.caFile}" }`,
      "interval: 10",
      `spool: { dir: ${join(dir, "spool")} }`,
      `socket: { path: ${join(dir, "agent.sock")} }`,
      "checks:",
      ...checks.map((c) => `  - ${c}`),
    ].join("\n"),
  );
  const child = spawn(
    v.exec ?? process.execPath,
    [...(v.exec ? [] : extraFlags), ...v.argv, "-c", config],
    {
      env: { ...process.env, JABMON_LOG_LEVEL: "warn", ...(v.env ?? {}) },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  procs.push({ name: v.name, child });
}
const exporterPort = await freePort();
const exporter = spawn(EXPORTER, [`--web.listen-address=127.0.0.1:${exporterPort}`], {
  stdio: ["ignore", "ignore", "ignore"],
});
procs.push({ name: "node_exporter", child: exporter });
const scrape = setInterval(() => {
  fetch(`http://127.0.0.1:${exporterPort}/metrics`)
    .then((r) => r.text())
    .catch(() => undefined);
}, 10_000);

const TICK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
const status = (pid) => {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  return { rss: kb("VmRSS"), anon: kb("RssAnon") };
};
const cpuTicks = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
};

// Warm-up: let every process connect and run its first checks before measuring.
await new Promise((r) => setTimeout(r, 20_000));
const samples = Object.fromEntries(
  procs.map((p) => [p.name, { rss: [], anon: [], t0: cpuTicks(p.child.pid) }]),
);
const t0 = Date.now();
console.log(`measuring for ${durationS} s…`);
while (Date.now() - t0 < durationS * 1000) {
  await new Promise((r) => setTimeout(r, sampleS * 1000));
  for (const p of procs) {
    const s = status(p.child.pid);
    samples[p.name].rss.push(s.rss);
    samples[p.name].anon.push(s.anon);
  }
}
const elapsed = (Date.now() - t0) / 1000;
const result = {
  duration_s: Math.round(elapsed),
  checks: checks.length,
  check_interval_s: 10,
  sample_interval_s: sampleS,
  published_items: published,
  node_version: process.version,
};
const avg = (a) => a.reduce((x, y) => x + y, 0) / a.length;
for (const p of procs) {
  const s = samples[p.name];
  const cpu = ((cpuTicks(p.child.pid) - s.t0) / TICK / elapsed) * 100;
  result[`${p.name}_rss_avg_mb`] = +(avg(s.rss) / 1024).toFixed(1);
  result[`${p.name}_rss_max_mb`] = +(Math.max(...s.rss) / 1024).toFixed(1);
  result[`${p.name}_rssanon_avg_mb`] = +(avg(s.anon) / 1024).toFixed(1);
  result[`${p.name}_rssanon_max_mb`] = +(Math.max(...s.anon) / 1024).toFixed(1);
  result[`${p.name}_cpu_pct`] = +cpu.toFixed(3);
}
clearInterval(scrape);
for (const p of procs) p.child.kill("SIGTERM");
await link.stop();
await ejabberd.destroy();
rmSync(work, { recursive: true, force: true });
writeFileSync(
  arg("out", join(root, "bench", "results", "agent.json")),
  `${JSON.stringify(result, null, 2)}\n`,
);
console.log(result);
process.exit(0);
