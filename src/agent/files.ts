/**
 * Configuration-change watching: a changed file under a watched path becomes
 * `<event type="file" path change checksum/>`. Files are watched through their
 * directory (fs.watch on a file loses track when an editor replaces it by
 * rename); a change is confirmed by its SHA-256, so a touch or a save of the
 * same content sends nothing. Events for one path are debounced (an editor's
 * save is several writes).
 */
import { createHash } from "node:crypto";
import { createReadStream, type FSWatcher, watch } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Logger } from "../log/index.js";
import type { EventItem } from "./items.js";

export interface FileWatchConfig {
  path: string;
  recursive: boolean;
}

export async function checksum(path: string): Promise<string | null> {
  try {
    if (!(await stat(path)).isFile()) return null;
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return `sha256:${hash.digest("hex")}`;
  } catch {
    return null;
  }
}

const MAX_FILES = 10_000;

async function listFiles(dir: string, recursive: boolean, out: string[] = []): Promise<string[]> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (out.length >= MAX_FILES) break;
    const p = join(dir, e.name);
    if (e.isFile()) out.push(p);
    else if (recursive && e.isDirectory()) await listFiles(p, recursive, out);
  }
  return out;
}

export interface FileWatchOptions {
  log: Logger;
  onEvent(item: EventItem): void;
  debounceMs?: number;
}

export async function watchFiles(
  configs: FileWatchConfig[],
  opts: FileWatchOptions,
): Promise<{ stop(): void }> {
  const known = new Map<string, string | null>();
  const pending = new Map<string, NodeJS.Timeout>();
  const watchers: FSWatcher[] = [];
  const debounceMs = opts.debounceMs ?? 200;

  const settle = async (path: string) => {
    pending.delete(path);
    const before = known.get(path) ?? null;
    const after = await checksum(path);
    if (before === after) return;
    known.set(path, after);
    const change = before === null ? "created" : after === null ? "deleted" : "modified";
    opts.onEvent({
      kind: "event",
      type: "file",
      severity: "info",
      path,
      change,
      ...(after ? { checksum: after } : {}),
      text: `${path} ${change}`,
    });
  };
  const touched = (path: string) => {
    clearTimeout(pending.get(path));
    pending.set(
      path,
      setTimeout(() => void settle(path), debounceMs),
    );
  };

  for (const cfg of configs) {
    const target = resolve(cfg.path);
    let isDir = false;
    try {
      isDir = (await stat(target)).isDirectory();
    } catch {
      // Not there yet: watch its directory for it to appear.
    }
    const files = isDir ? await listFiles(target, cfg.recursive) : [target];
    for (const f of files) known.set(f, await checksum(f));
    const dir = isDir ? target : dirname(target);
    const only = isDir ? undefined : basename(target);
    try {
      const w = watch(
        dir,
        { recursive: isDir && cfg.recursive, persistent: false },
        (_type, name) => {
          if (!name) return;
          const file = join(dir, name.toString());
          if (only !== undefined && name.toString() !== only) return;
          touched(file);
        },
      );
      w.on("error", (err) => opts.log.warn({ dir, err: err.message }, "file watch failed"));
      watchers.push(w);
    } catch (err) {
      opts.log.warn({ path: cfg.path, err: (err as Error).message }, "cannot watch");
    }
  }
  return {
    stop() {
      for (const w of watchers) w.close();
      for (const t of pending.values()) clearTimeout(t);
    },
  };
}
