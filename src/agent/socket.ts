/**
 * The local door for shell scripts (docs/agent.md, "Socket protocol"): a Unix
 * socket, mode 0660 and a configurable group, speaking newline-delimited JSON.
 * Each request line gets one reply line: `{"ok":true,"seq":N}` once the result
 * is in the spool (durable), or `{"ok":false,"error":"..."}`. Garbage gets an
 * error reply; a line past 64 KiB closes that connection; the agent carries on.
 */
import { chmod, chown, mkdir, readFile, unlink } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import type { Logger } from "../log/index.js";
import type { Item, Severity } from "./items.js";
import { parsePluginOutput, stateForExit } from "./nagios.js";

export const MAX_LINE_BYTES = 64 * 1024;
const MAX_CONNECTIONS = 64;
const SEVERITIES = new Set(["info", "warning", "critical"]);
const NAME = /^[\w.:/@-]{1,64}$/;

export class RequestError extends Error {
  override name = "RequestError";
}

function str(
  req: Record<string, unknown>,
  key: string,
  max: number,
  required = true,
): string | undefined {
  const value = req[key];
  if (value === undefined || value === null) {
    if (required) throw new RequestError(`${key}: is required`);
    return undefined;
  }
  if (typeof value !== "string") throw new RequestError(`${key}: must be a string`);
  if (value.length > max) throw new RequestError(`${key}: longer than ${max} characters`);
  return value;
}

function nonNegative(req: Record<string, unknown>, key: string): number | undefined {
  const value = req[key];
  if (value === undefined || value === null) return undefined;
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0)
    throw new RequestError(`${key}: must be a number ≥ 0`);
  return n;
}

/** One request line → the item to publish. Throws RequestError naming the field. */
export function parseRequest(line: string): Item {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    throw new RequestError("not a JSON object");
  }
  if (typeof req !== "object" || req === null || Array.isArray(req))
    throw new RequestError("not a JSON object");
  const r = req as Record<string, unknown>;
  const severity = (str(r, "severity", 16, false) ?? "info") as Severity;
  if (!SEVERITIES.has(severity))
    throw new RequestError("severity: must be info, warning or critical");
  switch (r.op) {
    case "send":
      return { kind: "event", type: "message", severity, text: str(r, "text", 4096) as string };
    case "log": {
      const tag = str(r, "tag", 64, false);
      return {
        kind: "event",
        type: "log",
        severity,
        text: str(r, "text", 4096) as string,
        ...(tag ? { tag } : {}),
      };
    }
    case "check-result": {
      const name = str(r, "name", 64) as string;
      if (!NAME.test(name))
        throw new RequestError("name: must be 1-64 letters, digits or _ . : / @ -");
      const exit = r.exit;
      const code = typeof exit === "string" && /^\d+$/.test(exit) ? Number(exit) : exit;
      if (typeof code !== "number" || !Number.isInteger(code) || code < 0 || code > 255)
        throw new RequestError("exit: must be an exit code 0-255");
      const parsed = parsePluginOutput(str(r, "output", 16384, false) ?? "");
      return {
        kind: "check",
        name,
        state: stateForExit(code),
        output: parsed.output || "(no output)",
        ...(parsed.longOutput ? { longOutput: parsed.longOutput } : {}),
        durationMs: 0,
        metrics: parsed.metrics,
        passive: true,
      };
    }
    case "backup": {
      const job = str(r, "job", 64) as string;
      if (!NAME.test(job))
        throw new RequestError("job: must be 1-64 letters, digits or _ . : / @ -");
      const status = r.status;
      if (status !== "ok" && status !== "failed")
        throw new RequestError("status: must be ok or failed");
      const sizeBytes = nonNegative(r, "size");
      const durationS = nonNegative(r, "duration");
      const message = str(r, "message", 4096, false);
      return {
        kind: "backup",
        job,
        status,
        ...(sizeBytes !== undefined ? { sizeBytes: Math.round(sizeBytes) } : {}),
        ...(durationS !== undefined ? { durationS } : {}),
        ...(message ? { message } : {}),
      };
    }
    default:
      throw new RequestError("op: must be send, log, check-result or backup");
  }
}

export async function groupId(group: string | number): Promise<number> {
  if (typeof group === "number" || /^\d+$/.test(group)) return Number(group);
  const text = await readFile("/etc/group", "utf8");
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined) return Number(gid);
  }
  throw new Error(`socket.group: no group named ${group}`);
}

/** Is something already listening on `path`? */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Listen on a Unix socket that is born mode 0600 (owner only), whatever the
 * process umask: chmod after listen alone leaves a window in which anyone the
 * umask lets in can connect and record results. Node binds the path inside
 * listen() on the main thread, so the umask is narrowed only around that call.
 */
export function listenPrivately(server: Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const previous = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    } finally {
      process.umask(previous);
    }
  });
}

export interface SocketOptions {
  path: string;
  mode: number;
  group?: string | number;
  log: Logger;
  /** Spool the item; returns its sequence number. */
  accept(item: Item): number;
}

export async function startSocketServer(
  options: SocketOptions,
): Promise<{ close(): Promise<void> }> {
  const { path, log } = options;
  await mkdir(dirname(path), { recursive: true });
  if (await listening(path)) throw new Error(`socket ${path} is in use: is another agent running?`);
  await unlink(path).catch(() => undefined);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    if (sockets.size >= MAX_CONNECTIONS) {
      socket.end(`${JSON.stringify({ ok: false, error: "too many connections" })}\n`);
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.setTimeout(60_000, () => socket.destroy());
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      let nl = buffer.indexOf("\n");
      while (nl >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) socket.write(`${JSON.stringify(handle(line))}\n`);
        nl = buffer.indexOf("\n");
      }
      if (buffer.length > MAX_LINE_BYTES) {
        socket.end(
          `${JSON.stringify({ ok: false, error: `line longer than ${MAX_LINE_BYTES} bytes` })}\n`,
        );
        buffer = "";
      }
    });
  });
  const handle = (line: string): { ok: true; seq: number } | { ok: false; error: string } => {
    try {
      return { ok: true, seq: options.accept(parseRequest(line)) };
    } catch (err) {
      if (err instanceof RequestError) return { ok: false, error: err.message };
      log.error({ err: (err as Error).message }, "socket request failed");
      return { ok: false, error: "internal error: the result was not spooled" };
    }
  };
  await listenPrivately(server, path);
  // Group first, then the wider mode: it never is 0660 with the wrong group.
  if (options.group !== undefined) await chown(path, -1, await groupId(options.group));
  await chmod(path, options.mode);
  log.info({ path }, "socket listening");
  return {
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
