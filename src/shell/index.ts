/**
 * The shell side of the agent's local socket (docs/agent.md, "Socket
 * protocol"): `jabmon send`, `check-result`, `log`, `report backup` and
 * `run-backup` each send one JSON line and wait for the agent's reply, which
 * comes once the result is in the agent's spool. Nothing here loads XMPP.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const DEFAULT_SOCKET = "/run/jabmon/agent.sock";

/**
 * Where `jabmon demo` puts its agent's socket: a fixed, per-user path, so
 * `jabmon send` from another terminal finds it. $XDG_RUNTIME_DIR (private to
 * the user) when set, else a directory of ours in the temporary directory
 * (the demo creates it 0700 and refuses one owned by someone else).
 */
export function demoSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.getuid?.() ?? 0;
  const base = env.XDG_RUNTIME_DIR || join(tmpdir(), `jabmon-${uid}`);
  return join(base, "jabmon-demo", "agent.sock");
}

export class ShellError extends Error {
  override name = "ShellError";
}

/**
 * --socket, else $JABMON_AGENT_SOCKET, else the system agent's socket; when
 * there is none but `jabmon demo` is running, the demo's.
 */
export function socketPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? env.JABMON_AGENT_SOCKET;
  if (chosen) return chosen;
  if (!existsSync(DEFAULT_SOCKET) && existsSync(demoSocketPath(env))) return demoSocketPath(env);
  return DEFAULT_SOCKET;
}

export type Request =
  | { op: "send"; severity?: string; text: string }
  | { op: "log"; tag?: string; severity?: string; text: string }
  | { op: "check-result"; name: string; exit: number | string; output: string }
  | {
      op: "backup";
      job: string;
      status: string;
      size?: number | string;
      duration?: number | string;
      message?: string;
    };

/** Send one request; resolves with the sequence number the agent gave it. */
export function request(path: string, req: Request, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ShellError(`no answer from the agent on ${path} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify(req)}\n`));
    socket.on("data", (chunk: string) => {
      reply += chunk;
      const nl = reply.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        const answer = JSON.parse(reply.slice(0, nl)) as {
          ok: boolean;
          seq?: number;
          error?: string;
        };
        if (answer.ok) resolve(answer.seq as number);
        else reject(new ShellError(`the agent refused: ${answer.error}`));
      } catch {
        reject(new ShellError("the agent's answer was not understood"));
      }
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new ShellError(
          `cannot reach the agent on ${path}: ${err.code ?? err.message} (is \`jabmon agent\` running? JABMON_AGENT_SOCKET or --socket set the path)`,
        ),
      );
    });
  });
}

/** Bytes under `path` (files' sizes, like `du -sb --apparent-size`); symlinks are not followed. */
export async function sizeOf(path: string): Promise<number> {
  const st = await lstat(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await sizeOf(join(path, entry)).catch(() => 0);
  return total;
}

export interface RunBackupOptions {
  job: string;
  measure?: string;
  command: string;
  args: string[];
  socket: string;
}

/**
 * Run a backup command (no shell, output to our own stdout/stderr), then report
 * its status, duration and the size of `measure`. Returns the command's exit code.
 */
export async function runBackup(opts: RunBackupOptions): Promise<number> {
  const started = performance.now();
  const { code, error } = await new Promise<{ code: number; error?: string }>((resolve) => {
    const child = spawn(opts.command, opts.args, { stdio: "inherit" });
    child.on("error", (err: NodeJS.ErrnoException) =>
      resolve({ code: 127, error: err.code ?? err.message }),
    );
    child.on("close", (c, signal) =>
      resolve({ code: c ?? 128, ...(signal ? { error: `killed by ${signal}` } : {}) }),
    );
  });
  const duration = Math.round((performance.now() - started) / 100) / 10;
  let size: number | undefined;
  let sizeProblem: string | undefined;
  if (opts.measure) {
    try {
      size = await sizeOf(opts.measure);
    } catch (err) {
      sizeProblem = `cannot measure ${opts.measure}: ${(err as NodeJS.ErrnoException).code}`;
    }
  }
  const ok = code === 0 && !error;
  const message = [
    ok ? undefined : error ? `${opts.command}: ${error}` : `${opts.command} exited with ${code}`,
    sizeProblem,
  ]
    .filter(Boolean)
    .join("; ");
  await request(opts.socket, {
    op: "backup",
    job: opts.job,
    status: ok ? "ok" : "failed",
    duration,
    ...(size !== undefined ? { size } : {}),
    ...(message ? { message } : {}),
  });
  return code;
}
