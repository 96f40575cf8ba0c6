/**
 * Check definitions → runnable checks, and the scheduler that runs each on its
 * own interval. A check that throws or overruns its timeout gives an
 * `unknown` result; it never stops the others.
 */
import type { HostState } from "../protocol/index.js";
import {
  cpuCollector,
  diskCollector,
  loadCollector,
  type Measurement,
  memoryCollector,
  networkCollector,
  processCollector,
  swapCollector,
  tcpCollector,
  uptimeCollector,
} from "./collectors.js";
import type { CheckConfig } from "./config.js";
import type { CheckItem } from "./items.js";
import { runPlugin } from "./nagios.js";

export interface Check {
  name: string;
  intervalMs: number;
  timeoutMs: number;
  labels?: Record<string, string>;
  /** Soft/hard (docs/monitor.md): while bad for fewer than `attempts` runs, rerun after retryIntervalMs. */
  attempts?: number;
  retryIntervalMs?: number;
  run(): Promise<Measurement & { longOutput?: string }>;
}

export interface CheckDefaults {
  intervalS: number;
  maxOutputBytes: number;
}

/** What runs when `checks` is absent from the config: what the first agent reported. */
export const DEFAULT_CHECKS: CheckConfig[] = [
  { type: "load", name: "load", perCpu: true, warn: 2, crit: 4 },
  { type: "disk", name: "disk", mounts: ["/"], warn: 90, crit: 95 },
];

export function buildCheck(def: CheckConfig, defaults: CheckDefaults): Check {
  const intervalMs = (def.interval ?? defaults.intervalS) * 1000;
  // Default timeout: the interval, capped at 60 s.
  const timeoutMs = (def.timeout ?? Math.min(60, def.interval ?? defaults.intervalS)) * 1000;
  const t = { warn: def.warn, crit: def.crit };
  let run: Check["run"];
  switch (def.type) {
    case "cpu":
      run = cpuCollector(t);
      break;
    case "load":
      run = loadCollector({ ...t, perCpu: def.perCpu });
      break;
    case "memory":
      run = memoryCollector(t);
      break;
    case "swap":
      run = swapCollector(t);
      break;
    case "disk":
      run = diskCollector({ ...t, mounts: def.mounts });
      break;
    case "network":
      run = networkCollector({ interfaces: def.interfaces });
      break;
    case "uptime":
      run = uptimeCollector(t);
      break;
    case "process":
      run = processCollector({ process: def.process, min: def.min, max: def.max });
      break;
    case "tcp":
      run = tcpCollector({ ...t, host: def.host, port: def.port, timeoutMs });
      break;
    case "nagios": {
      const name = def.name;
      run = async () => {
        const r = await runPlugin({
          command: def.command,
          args: def.args,
          timeoutMs,
          maxOutputBytes: defaults.maxOutputBytes,
        });
        return {
          state: r.state,
          output: r.output,
          ...(r.longOutput ? { longOutput: r.longOutput } : {}),
          summary: `${name}: ${r.output.slice(0, 60)}`,
          metrics: r.metrics,
        };
      };
      break;
    }
  }
  // The monitor learns a check's attempts from its result, as a label.
  const labels =
    def.attempts !== undefined || def.freshness !== undefined
      ? {
          ...def.labels,
          ...(def.attempts !== undefined ? { "jabmon.attempts": String(def.attempts) } : {}),
          ...(def.freshness !== undefined ? { "jabmon.freshness": String(def.freshness) } : {}),
        }
      : def.labels;
  const retryIntervalMs = def.retryInterval !== undefined ? def.retryInterval * 1000 : undefined;
  return {
    name: def.name,
    intervalMs,
    timeoutMs,
    labels,
    run,
    ...(def.attempts !== undefined ? { attempts: def.attempts } : {}),
    ...(retryIntervalMs !== undefined ? { retryIntervalMs } : {}),
  };
}

export interface CheckOutcome {
  item: CheckItem;
  summary: string;
}

/** Run one check once, with its timeout; never rejects. */
export async function runCheck(check: Check): Promise<CheckOutcome> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let m: Measurement & { longOutput?: string };
  try {
    // The plugin runner kills on its own timeout; this guards the built-ins (a hung statfs on NFS).
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`check timed out after ${check.timeoutMs / 1000} s`)),
        check.timeoutMs + 2000,
      );
    });
    m = await Promise.race([check.run(), guard]);
  } catch (err) {
    const why = (err as Error).message;
    m = {
      state: "unknown" as HostState,
      output: `${check.name}: ${why}`,
      summary: `${check.name} ${why}`,
      metrics: [],
    };
  } finally {
    clearTimeout(timer);
  }
  return {
    item: {
      kind: "check",
      name: check.name,
      state: m.state,
      output: m.output,
      ...(m.longOutput ? { longOutput: m.longOutput } : {}),
      durationMs: performance.now() - started,
      metrics: m.metrics,
      ...(check.labels ? { labels: check.labels } : {}),
    },
    summary: m.summary,
  };
}

/**
 * A soft problem (bad for fewer than `attempts` runs in a row) is rechecked
 * after the retry interval, so it turns hard, or clears, sooner than the
 * normal interval would tell.
 */
export function nextRunInMs(check: Check, consecutiveBad: number): number {
  const soft =
    check.retryIntervalMs !== undefined &&
    consecutiveBad > 0 &&
    consecutiveBad < (check.attempts ?? 1);
  return soft ? (check.retryIntervalMs as number) : check.intervalMs;
}

/**
 * Run every check on its interval, spread over the first interval so twenty
 * checks do not all wake at once. A run never overlaps the previous one.
 */
export function scheduleChecks(
  checks: Check[],
  onResult: (outcome: CheckOutcome) => void,
): { stop(): void } {
  const timers = new Map<string, NodeJS.Timeout>();
  let stopped = false;
  for (const [i, check] of checks.entries()) {
    let bad = 0;
    const loop = async () => {
      const started = Date.now();
      const outcome = await runCheck(check);
      if (stopped) return;
      onResult(outcome);
      bad = outcome.item.state === "ok" ? 0 : bad + 1;
      const next = Math.max(0, nextRunInMs(check, bad) - (Date.now() - started));
      timers.set(check.name + i, setTimeout(loop, next));
    };
    const first = Math.min(check.intervalMs, 2000) * (i / Math.max(1, checks.length));
    timers.set(check.name + i, setTimeout(loop, first));
  }
  return {
    stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
    },
  };
}
