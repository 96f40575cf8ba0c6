/**
 * Log watching: follow a file through rotation (rename and re-create) and
 * truncation (copytruncate) with @logdna/tail-file, match each line against
 * regular expressions and publish matches as `<event type="log"/>`, at most
 * `maxPerMinute` per file; the rest are counted and the count goes out as
 * `suppressed` on the next event (or on a summary event when the minute ends).
 *
 * A file that cannot be read is reported once as a check problem (and once
 * again when it recovers), then retried quietly: never an event per retry.
 */
import TailFile from "@logdna/tail-file";
import type { Logger } from "../log/index.js";
import type { LogWatchConfig } from "./config.js";
import type { EventItem } from "./items.js";

export interface LogProblem {
  path: string;
  /** undefined when the file is readable again. */
  error: string | undefined;
}

export interface LogWatchOptions {
  log: Logger;
  onEvent(item: EventItem): void;
  onProblem(problem: LogProblem): void;
  retryMs?: number;
  pollMs?: number;
  /** The rate limit's window; a minute except in tests. */
  windowMs?: number;
}

export function watchLog(cfg: LogWatchConfig, opts: LogWatchOptions): { stop(): Promise<void> } {
  const patterns = cfg.match.map((re) => new RegExp(re));
  const retryMs = opts.retryMs ?? 5000;
  const WINDOW_MS = opts.windowMs ?? 60_000;
  let tail: TailFile | undefined;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let problem: string | undefined;
  let opened = false;
  let partial = "";
  let windowStart = 0;
  let inWindow = 0;
  let suppressed = 0;
  let summaryTimer: NodeJS.Timeout | undefined;

  const base = {
    kind: "event" as const,
    type: "log" as const,
    path: cfg.path,
    severity: cfg.severity,
  };
  const tag = cfg.tag ? { tag: cfg.tag } : {};

  const emitSummary = () => {
    summaryTimer = undefined;
    if (suppressed === 0) return;
    opts.onEvent({
      ...base,
      ...tag,
      text: `${suppressed} more matching line${suppressed === 1 ? "" : "s"} suppressed (limit ${cfg.maxPerMinute}/min)`,
      suppressed,
    });
    suppressed = 0;
  };

  const matched = (line: string) => {
    const now = Date.now();
    if (now - windowStart >= WINDOW_MS) {
      windowStart = now;
      inWindow = 0;
    }
    if (inWindow >= cfg.maxPerMinute) {
      suppressed += 1;
      summaryTimer ??= setTimeout(emitSummary, windowStart + WINDOW_MS - now);
      return;
    }
    inWindow += 1;
    const item: EventItem = { ...base, ...tag, text: line };
    if (suppressed > 0) {
      item.suppressed = suppressed;
      suppressed = 0;
    }
    opts.onEvent(item);
  };

  const onData = (chunk: string) => {
    const text = partial + chunk;
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    // A runaway line without newlines must not grow without bound.
    if (partial.length > 64 * 1024) partial = "";
    for (const raw of lines) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (patterns.some((p) => p.test(line))) matched(line);
    }
  };

  const report = (error: string | undefined) => {
    if (error === problem) return;
    problem = error;
    if (error) opts.log.warn({ path: cfg.path, error }, "log file unreadable");
    else opts.log.info({ path: cfg.path }, "log file readable");
    opts.onProblem({ path: cfg.path, error });
  };

  const retry = () => {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void open();
    }, retryMs);
  };

  const open = async () => {
    if (stopped) return;
    // After a failure the file that appears is new: read it from the start.
    const t = new TailFile(cfg.path, {
      encoding: "utf8",
      pollFileIntervalMs: opts.pollMs ?? 500,
      pollFailureRetryMs: 200,
      maxPollFailures: 300,
      ...(opened || problem ? { startPos: 0 } : {}),
    });
    t.on("data", onData);
    t.on("tail_error", (err: Error) =>
      opts.log.debug({ path: cfg.path, err: err.message }, "tail error"),
    );
    t.on("error", (err: NodeJS.ErrnoException) => {
      if (tail === t) tail = undefined;
      report(`${err.code ?? err.message}`);
      retry();
    });
    tail = t;
    try {
      await t.start();
      opened = true;
      partial = "";
      report(undefined);
    } catch (err) {
      if (tail === t) tail = undefined;
      t.removeAllListeners("data");
      report(`${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      retry();
    }
  };

  void open();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      clearTimeout(summaryTimer);
      // quit() waits for a last 'flush' that may never come; do not hang a shutdown on it.
      const t = tail;
      tail = undefined;
      if (t) {
        t.removeAllListeners("data");
        await Promise.race([
          t.quit().catch(() => undefined),
          new Promise((r) => setTimeout(r, 500).unref()),
        ]);
      }
    },
  };
}
