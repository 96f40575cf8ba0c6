/**
 * Built-in collectors, read straight from the kernel (/proc, node:os,
 * fs.statfs): no child processes and no libraries, so a check costs a few
 * reads. /proc files are read synchronously: they are generated in memory and
 * never block, and one readFileSync costs a fraction of the four libuv round
 * trips (open, fstat, read, close) of fs.promises.readFile; measured CPU
 * matters for an agent that runs every ten seconds forever. Each returns a state, a line for people, a short summary for the
 * presence status and metrics.
 */
import { readdirSync, readFileSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { connect } from "node:net";
import { availableParallelism, loadavg, uptime } from "node:os";
import type { HostState } from "../protocol/index.js";
import type { Metric } from "./items.js";

export interface Measurement {
  state: HostState;
  output: string;
  /** A few words for the presence status, e.g. "disk /var 96%". */
  summary: string;
  metrics: Metric[];
}

export interface Thresholds {
  warn?: number;
  crit?: number;
}

/** Higher is worse: crit when value ≥ crit, warning when ≥ warn. */
export function rate(value: number, t: Thresholds): HostState {
  if (t.crit !== undefined && value >= t.crit) return "critical";
  if (t.warn !== undefined && value >= t.warn) return "warning";
  return "ok";
}

const RANK: Record<HostState, number> = { ok: 0, unknown: 1, warning: 2, critical: 3 };
const worse = (a: HostState, b: HostState) => (RANK[b] > RANK[a] ? b : a);
const pct = (v: number) => Math.round(v * 10) / 10;
const th = (t: Thresholds) => ({
  warn: t.warn === undefined ? undefined : String(t.warn),
  crit: t.crit === undefined ? undefined : String(t.crit),
});
const WORD: Record<HostState, string> = {
  ok: "OK",
  warning: "WARNING",
  critical: "CRITICAL",
  unknown: "UNKNOWN",
};

// ---- cpu -------------------------------------------------------------------

interface CpuSample {
  busy: number;
  total: number;
}

async function cpuSample(): Promise<CpuSample> {
  const line = readFileSync("/proc/stat", "latin1").split("\n", 1)[0] ?? "";
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest is already in user).
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU use between calls (the first call samples twice, 250 ms apart). */
export function cpuCollector(t: Thresholds) {
  let last: CpuSample | undefined;
  return async (): Promise<Measurement> => {
    if (!last) {
      last = await cpuSample();
      await new Promise((r) => setTimeout(r, 250));
    }
    const now = await cpuSample();
    const dt = now.total - last.total;
    const used = dt > 0 ? ((now.busy - last.busy) / dt) * 100 : 0;
    last = now;
    const state = rate(used, t);
    return {
      state,
      output: `CPU ${WORD[state]} - ${pct(used)}% used`,
      summary: `cpu ${Math.round(used)}%`,
      metrics: [{ name: "cpu", value: pct(used), uom: "%", ...th(t), min: 0, max: 100 }],
    };
  };
}

// ---- load ------------------------------------------------------------------

export function loadCollector(t: Thresholds & { perCpu?: boolean }) {
  return async (): Promise<Measurement> => {
    const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
    const cpus = availableParallelism();
    const judged = t.perCpu ? l1 / cpus : l1;
    const state = rate(judged, t);
    return {
      state,
      output: `LOAD ${WORD[state]} - load average: ${l1.toFixed(2)}, ${l5.toFixed(2)}, ${l15.toFixed(2)} (${cpus} CPUs)`,
      summary: `load ${l1.toFixed(1)}`,
      metrics: [
        { name: "load1", value: l1, ...th(t), min: 0 },
        { name: "load5", value: l5, min: 0 },
        { name: "load15", value: l15, min: 0 },
      ],
    };
  };
}

// ---- memory and swap ---------------------------------------------------------

export async function meminfo(): Promise<Map<string, number>> {
  const text = readFileSync("/proc/meminfo", "latin1");
  const map = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line);
    if (m) map.set(m[1] as string, Number(m[2]) * 1024);
  }
  return map;
}

export function memoryCollector(t: Thresholds) {
  return async (): Promise<Measurement> => {
    const m = await meminfo();
    const total = m.get("MemTotal") ?? 0;
    const available = m.get("MemAvailable") ?? m.get("MemFree") ?? 0;
    const used = total > 0 ? ((total - available) / total) * 100 : 0;
    const state = rate(used, t);
    return {
      state,
      output: `MEMORY ${WORD[state]} - ${pct(used)}% used (${Math.round(available / 1048576)} MiB available of ${Math.round(total / 1048576)} MiB)`,
      summary: `memory ${Math.round(used)}%`,
      metrics: [
        { name: "memory_used", value: pct(used), uom: "%", ...th(t), min: 0, max: 100 },
        { name: "memory_available", value: available, uom: "B", min: 0, max: total },
      ],
    };
  };
}

export function swapCollector(t: Thresholds) {
  return async (): Promise<Measurement> => {
    const m = await meminfo();
    const total = m.get("SwapTotal") ?? 0;
    const free = m.get("SwapFree") ?? 0;
    const used = total > 0 ? ((total - free) / total) * 100 : 0;
    const state = total > 0 ? rate(used, t) : "ok";
    return {
      state,
      output:
        total > 0
          ? `SWAP ${WORD[state]} - ${pct(used)}% used of ${Math.round(total / 1048576)} MiB`
          : "SWAP OK - no swap configured",
      summary: `swap ${Math.round(used)}%`,
      metrics: [{ name: "swap_used", value: pct(used), uom: "%", ...th(t), min: 0, max: 100 }],
    };
  };
}

// ---- disk ------------------------------------------------------------------

/** File systems that are not disks (/proc/mounts types to skip when no mounts are given). */
const VIRTUAL_FS = new Set([
  "proc",
  "sysfs",
  "devtmpfs",
  "devpts",
  "tmpfs",
  "cgroup",
  "cgroup2",
  "securityfs",
  "pstore",
  "bpf",
  "debugfs",
  "tracefs",
  "mqueue",
  "hugetlbfs",
  "fusectl",
  "configfs",
  "autofs",
  "binfmt_misc",
  "nsfs",
  "rpc_pipefs",
  "overlay",
  "squashfs",
  "ramfs",
  "efivarfs",
  "fuse.lxcfs",
]);

export async function realMounts(): Promise<string[]> {
  const text = readFileSync("/proc/mounts", "latin1");
  const mounts = new Set<string>();
  for (const line of text.split("\n")) {
    const [, mount, type] = line.split(" ");
    if (!mount || !type || VIRTUAL_FS.has(type)) continue;
    // /proc/mounts escapes spaces as \040.
    mounts.add(mount.replace(/\\040/g, " "));
  }
  return [...mounts];
}

/** Use per mount; one result whose state is the worst mount. A mount that fails is unknown, the others still count. */
export function diskCollector(t: Thresholds & { mounts?: string[] }) {
  return async (): Promise<Measurement> => {
    const mounts = t.mounts?.length ? t.mounts : await realMounts();
    let state: HostState = "ok";
    let worstText = "";
    let worstUsed = -1;
    const parts: string[] = [];
    const metrics: Metric[] = [];
    for (const mount of mounts) {
      try {
        const fs = await statfs(mount);
        const used = fs.blocks > 0 ? (1 - fs.bavail / fs.blocks) * 100 : 0;
        const s = rate(used, t);
        state = worse(state, s);
        if (used > worstUsed) {
          worstUsed = used;
          worstText = `disk ${mount} ${Math.round(used)}%`;
        }
        parts.push(`${mount} ${pct(used)}%`);
        metrics.push({ name: mount, value: pct(used), uom: "%", ...th(t), min: 0, max: 100 });
      } catch (err) {
        state = worse(state, "unknown");
        parts.push(`${mount} ${(err as NodeJS.ErrnoException).code ?? "error"}`);
      }
    }
    return {
      state,
      output: `DISK ${WORD[state]} - used: ${parts.join(", ") || "no mounts"}`,
      summary: worstText || "disk: no mounts",
      metrics,
    };
  };
}

// ---- network -----------------------------------------------------------------

/** Byte, packet and error counters per interface from /proc/net/dev (counters, uom "c"). */
export function networkCollector(t: { interfaces?: string[] }) {
  return async (): Promise<Measurement> => {
    const text = readFileSync("/proc/net/dev", "latin1");
    const metrics: Metric[] = [];
    const names: string[] = [];
    for (const line of text.split("\n").slice(2)) {
      const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      const name = m[1] as string;
      if (t.interfaces?.length ? !t.interfaces.includes(name) : name === "lo") continue;
      const f = (m[2] as string).trim().split(/\s+/).map(Number);
      names.push(name);
      metrics.push(
        { name: `${name}_rx_bytes`, value: f[0] ?? 0, uom: "c" },
        { name: `${name}_rx_errors`, value: f[2] ?? 0, uom: "c" },
        { name: `${name}_tx_bytes`, value: f[8] ?? 0, uom: "c" },
        { name: `${name}_tx_errors`, value: f[10] ?? 0, uom: "c" },
      );
    }
    return {
      state: "ok",
      output: `NETWORK OK - ${names.length} interfaces: ${names.join(", ")}`,
      summary: "network",
      metrics,
    };
  };
}

// ---- uptime ------------------------------------------------------------------

/** Warn when the host rebooted recently (uptime below warn/crit seconds). */
export function uptimeCollector(t: Thresholds) {
  return async (): Promise<Measurement> => {
    const up = uptime();
    let state: HostState = "ok";
    if (t.crit !== undefined && up < t.crit) state = "critical";
    else if (t.warn !== undefined && up < t.warn) state = "warning";
    const days = Math.floor(up / 86400);
    const hours = Math.floor((up % 86400) / 3600);
    return {
      state,
      output: `UPTIME ${WORD[state]} - up ${days} days, ${hours} hours`,
      summary: `up ${days}d ${hours}h`,
      metrics: [{ name: "uptime", value: Math.round(up), uom: "s", min: 0 }],
    };
  };
}

// ---- process -----------------------------------------------------------------

let processTable: { at: number; names: string[] } | undefined;

/**
 * Program names of all processes (/proc/PID/comm, or argv[0]'s base name when
 * comm is cut at 15 characters), scanned at most once a second and shared by
 * every process check.
 */
export function processNames(): string[] {
  const now = Date.now();
  if (processTable && now - processTable.at < 1000) return processTable.names;
  const names: string[] = [];
  for (const entry of readdirSync("/proc")) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, "latin1").trim();
      if (comm.length < 15) {
        names.push(comm);
        continue;
      }
      const argv0 = readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0", 1)[0] ?? "";
      names.push(argv0.split("/").pop() || comm);
    } catch {
      // The process exited while we looked.
    }
  }
  processTable = { at: now, names };
  return names;
}

export function countProcesses(name: string): number {
  let count = 0;
  for (const n of processNames()) if (n === name) count++;
  return count;
}

export function processCollector(t: { process: string; min?: number; max?: number }) {
  const min = t.min ?? 1;
  return async (): Promise<Measurement> => {
    const n = countProcesses(t.process);
    const state: HostState = n < min || (t.max !== undefined && n > t.max) ? "critical" : "ok";
    return {
      state,
      output: `PROCS ${WORD[state]} - ${n} process${n === 1 ? "" : "es"} named ${t.process}`,
      summary: n === 0 ? `${t.process} not running` : `${t.process} ×${n}`,
      metrics: [{ name: "procs", value: n, min: 0 }],
    };
  };
}

// ---- tcp -----------------------------------------------------------------------

/** Connect to host:port; critical if refused or not answered within the timeout, warning past `warn` ms. */
export function tcpCollector(t: Thresholds & { host: string; port: number; timeoutMs: number }) {
  return () =>
    new Promise<Measurement>((resolve) => {
      const started = performance.now();
      const socket = connect({ host: t.host, port: t.port });
      const done = (ok: boolean, why: string) => {
        socket.destroy();
        clearTimeout(timer);
        const ms = performance.now() - started;
        const state = ok ? rate(ms, t) : "critical";
        resolve({
          state,
          output: ok
            ? `TCP ${WORD[state]} - ${t.host}:${t.port} answered in ${Math.round(ms)} ms`
            : `TCP CRITICAL - ${t.host}:${t.port} ${why}`,
          summary: ok ? `${t.host}:${t.port} ${Math.round(ms)} ms` : `${t.host}:${t.port} ${why}`,
          metrics: ok
            ? [{ name: "time", value: Math.round(ms * 10) / 10, uom: "ms", ...th(t) }]
            : [],
        });
      };
      const timer = setTimeout(() => done(false, "timed out"), t.timeoutMs);
      socket.once("connect", () => done(true, ""));
      socket.once("error", (err: NodeJS.ErrnoException) => done(false, err.code ?? err.message));
    });
}
