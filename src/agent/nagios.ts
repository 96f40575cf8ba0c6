/**
 * Nagios plugins (https://nagios-plugins.org/doc/guidelines.html): run an
 * executable with arguments (no shell), map its exit code to a state, take the
 * first line of output as the status text and the perfdata as metrics.
 */
import { spawn } from "node:child_process";
import type { HostState } from "../protocol/index.js";
import type { CheckItem, Metric } from "./items.js";

const STATES: HostState[] = ["ok", "warning", "critical", "unknown"];

/** Exit code → state; anything but 0..3 is unknown, as Nagios does. */
export function stateForExit(code: number | null): HostState {
  return code !== null && code >= 0 && code <= 3 ? (STATES[code] as HostState) : "unknown";
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/;

function optionalNumber(text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parse perfdata: `'label'=value[UOM];[warn];[crit];[min];[max]` separated by
 * spaces. Labels may be quoted with single quotes (then they may hold spaces,
 * and `''` is a literal quote). A malformed entry or a `U` (unknown) value is
 * skipped, never the rest.
 */
export function parsePerfdata(text: string): Metric[] {
  const metrics: Metric[] = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    while (s[i] === " " || s[i] === "\t" || s[i] === "\n") i++;
    if (i >= s.length) break;
    let label = "";
    if (s[i] === "'") {
      i++;
      for (;;) {
        if (i >= s.length) return metrics;
        if (s[i] === "'") {
          if (s[i + 1] === "'") {
            label += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        label += s[i];
        i++;
      }
    } else {
      while (i < s.length && s[i] !== "=" && s[i] !== " ") label += s[i++];
    }
    if (s[i] !== "=") {
      // Not a label=value pair: skip to the next space.
      while (i < s.length && s[i] !== " ") i++;
      continue;
    }
    i++;
    let field = "";
    while (i < s.length && s[i] !== " " && s[i] !== "\t" && s[i] !== "\n") field += s[i++];
    const [valueUom = "", warn, crit, min, max] = field.split(";");
    const match = NUMBER.exec(valueUom);
    if (!match || label === "") continue;
    const value = Number(match[0].replace(",", "."));
    if (!Number.isFinite(value)) continue;
    const metric: Metric = { name: label, value };
    const uom = valueUom.slice(match[0].length);
    if (uom) metric.uom = uom;
    if (warn) metric.warn = warn;
    if (crit) metric.crit = crit;
    const minN = optionalNumber(min);
    if (minN !== undefined) metric.min = minN;
    const maxN = optionalNumber(max);
    if (maxN !== undefined) metric.max = maxN;
    metrics.push(metric);
  }
  return metrics;
}

export interface ParsedOutput {
  output: string;
  longOutput?: string;
  metrics: Metric[];
}

/**
 * Split plugin output: `TEXT | PERF` on the first line, then long text lines,
 * then optionally `| PERF` continuing to the end (Nagios 3 multi-line format).
 */
export function parsePluginOutput(raw: string): ParsedOutput {
  const lines = raw.replace(/\r\n/g, "\n").replace(/\n+$/, "").split("\n");
  const first = lines[0] ?? "";
  const bar = first.indexOf("|");
  const output = (bar >= 0 ? first.slice(0, bar) : first).trim();
  const perf: string[] = bar >= 0 ? [first.slice(bar + 1)] : [];
  const long: string[] = [];
  let inPerf = false;
  for (const line of lines.slice(1)) {
    if (inPerf) {
      perf.push(line);
      continue;
    }
    const b = line.indexOf("|");
    if (b >= 0) {
      long.push(line.slice(0, b));
      perf.push(line.slice(b + 1));
      inPerf = true;
    } else long.push(line);
  }
  const longOutput = long.join("\n").trim();
  return {
    output,
    ...(longOutput ? { longOutput } : {}),
    metrics: parsePerfdata(perf.join(" ")),
  };
}

export interface PluginOptions {
  command: string;
  args: string[];
  timeoutMs: number;
  /** Output kept at most; the rest is read and discarded so the plugin never blocks. */
  maxOutputBytes: number;
  env?: NodeJS.ProcessEnv;
}

export type PluginResult = Omit<CheckItem, "kind" | "name" | "labels">;

/** Run a plugin; never rejects. A hung plugin is killed (its whole process group) at the timeout. */
export function runPlugin(opts: PluginOptions): Promise<PluginResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let kept = 0;
    let truncated = false;
    let timedOut = false;
    let settled = false;
    const finish = (result: Omit<PluginResult, "durationMs">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ ...result, durationMs: performance.now() - started });
    };
    const child = spawn(opts.command, opts.args, {
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: the timeout kills the plugin and anything it started.
      detached: true,
      env: opts.env ?? { PATH: "/usr/local/bin:/usr/bin:/bin", LC_ALL: "C" },
    });
    const keep = (data: Buffer, into: "out" | "err") => {
      if (kept >= opts.maxOutputBytes) {
        truncated = true;
        return;
      }
      const room = opts.maxOutputBytes - kept;
      const text = (data.length > room ? data.subarray(0, room) : data).toString("utf8");
      if (data.length > room) truncated = true;
      kept += Math.min(room, data.length);
      if (into === "out") stdout += text;
      else stderr += text;
    };
    child.stdout.on("data", (d: Buffer) => keep(d, "out"));
    child.stderr.on("data", (d: Buffer) => keep(d, "err"));
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        child.kill(signal);
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), 1000);
      // Do not wait for a plugin that ignores SIGTERM and holds its pipes open.
      setTimeout(
        () =>
          finish({
            state: "unknown",
            output: `plugin timed out after ${opts.timeoutMs / 1000} s`,
            metrics: [],
          }),
        1500,
      );
    }, opts.timeoutMs);
    child.on("error", (err: NodeJS.ErrnoException) => {
      finish({
        state: "unknown",
        output: `cannot run ${opts.command}: ${err.code ?? err.message}`,
        metrics: [],
      });
    });
    child.on("close", (code, signal) => {
      if (timedOut) {
        finish({
          state: "unknown",
          output: `plugin timed out after ${opts.timeoutMs / 1000} s`,
          metrics: [],
        });
        return;
      }
      const text = stdout.trim() ? stdout : stderr;
      const parsed = parsePluginOutput(text);
      let output = parsed.output || (signal ? `killed by ${signal}` : "(no output)");
      if (truncated) output = `${output} (output truncated at ${opts.maxOutputBytes} bytes)`;
      finish({
        state: signal ? "unknown" : stateForExit(code),
        output,
        ...(parsed.longOutput ? { longOutput: parsed.longOutput } : {}),
        metrics: parsed.metrics,
      });
    });
  });
}
