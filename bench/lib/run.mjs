/**
 * What every bench run needs around the system under test: the built code
 * (dist/, so `npm run build` first), polling with a deadline, work in
 * batches, the private ejabberd, the component as its own process, its
 * metrics, and the CPU and memory of a process from /proc.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const dist = (p) => join(root, "dist", p);
const { freePort, PrivateEjabberd } = await import(dist("stack/index.js"));
export { freePort };

export const REDIS_URL = process.env.JABMON_REDIS_URL ?? "redis://127.0.0.1:6379";
export const COMPONENT = "monitor.localhost";
export const NS_JABMON = "urn:jabmon:0";
export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` every `everyMs` until it is truthy; the seconds it took. */
export async function waitUntil(probe, timeoutMs, what, everyMs = 100) {
  const start = Date.now();
  for (;;) {
    if (await probe()) return (Date.now() - start) / 1000;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * `fn(0)` .. `fn(count - 1)`, `size` at a time. With `progress` ({ say, label }),
 * a line about every 2,000 done.
 */
export async function inBatches(count, size, fn, progress) {
  for (let i = 0; i < count; i += size) {
    await Promise.all(Array.from({ length: Math.min(size, count - i) }, (_, j) => fn(i + j)));
    const done = Math.min(count, i + size);
    if (progress && done % 2000 < size) progress.say(`${progress.label} ${done}/${count}`);
  }
}

/** A private ejabberd on free ports (src/stack), not started. */
export async function benchEjabberd(name, options = {}) {
  return PrivateEjabberd.create({
    name,
    c2sPort: await freePort(),
    componentPort: await freePort(),
    componentPassword: randomBytes(16).toString("hex"),
    ...options,
  });
}

/**
 * A bench's own world: a Redis key prefix, one password for all its accounts,
 * its private ejabberd (not started yet) and a port for the component's HTTP.
 */
export async function benchWorld(name, ejabberdOptions = {}) {
  return {
    prefix: `jabmon-bench-${name}:${randomUUID()}:`,
    password: randomBytes(8).toString("hex"),
    ejabberd: await benchEjabberd(name, ejabberdOptions),
    httpPort: await freePort(),
  };
}

/**
 * `jabmon component` as its own process on `ejabberd`, Redis keys under
 * `prefix`, HTTP on `httpPort`; `env` adds to (or overrides) its environment.
 */
/** Node flags for the component processes, e.g. BENCH_COMPONENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p" (not allowed in NODE_OPTIONS). */
const COMPONENT_NODE_ARGS = (process.env.BENCH_COMPONENT_NODE_ARGS ?? "").split(" ").filter(Boolean);

export function spawnComponent(ejabberd, { prefix, httpPort, args = [], env = {} }) {
  return spawn(process.execPath, [...COMPONENT_NODE_ARGS, dist("cli/main.js"), "component", ...args], {
    env: {
      ...process.env,
      JABMON_LOG_LEVEL: "warn",
      JABMON_COMPONENT_SERVICE: ejabberd.componentService,
      JABMON_COMPONENT_PASSWORD: ejabberd.config.componentPassword,
      JABMON_REDIS_URL: REDIS_URL,
      JABMON_REDIS_PREFIX: prefix,
      JABMON_HTTP_PORT: String(httpPort),
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** SIGTERM (or `signal`) a child process if it still runs, and wait until it has exited. */
export async function stopProcess(child, signal = "SIGTERM") {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  await exited;
}

/** Wait until the component at `url` answers its health check. */
export const componentUp = (url, timeoutMs = 60_000) =>
  waitUntil(async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok, timeoutMs, "the component");

/** One value of a Prometheus metric of the component at `url` (NaN when absent). */
export async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/** Resident memory of a process in MiB (NaN once it is gone). */
export function rssMb(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat (NaN once it is gone). */
export function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The beam.smp process of a private ejabberd node, not the shell wrappers around it. */
export function beamPid(nodeName) {
  const pids = execFileSync("pgrep", ["-f", nodeName.split("@")[0]]).toString().trim().split("\n");
  return Number(pids.find((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes("beam")));
}
