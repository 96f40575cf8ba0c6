/**
 * A private ejabberd from Debian's package: own config dir, spool, logs and
 * Erlang node name, so several can run side by side (tests run one per file)
 * without touching the system's /etc/ejabberd.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type EjabberdConfigOptions, ejabberdctlCfg, ejabberdYaml } from "./ejabberd-config.js";
import { generateSelfSignedCert, type TlsFiles, writeCombinedPem } from "./tls.js";

const run = promisify(execFile);
export const EJABBERDCTL = "/usr/sbin/ejabberdctl";
const INSTALL_COMMAND = "apt-get install -y ejabberd";

export class StackError extends Error {
  override name = "StackError";
}

/** Install ejabberd with apt when we are root; otherwise say exactly what to run. */
export async function ensureEjabberdInstalled(
  log: (line: string) => void = () => {},
): Promise<void> {
  if (existsSync(EJABBERDCTL)) return;
  if (process.getuid?.() !== 0) {
    throw new StackError(
      `ejabberd is not installed. Install it as root with:\n  sudo ${INSTALL_COMMAND}`,
    );
  }
  log("installing ejabberd with apt (first run only)…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update", "-qq"], { env, maxBuffer: 64 << 20 }).catch(() => undefined);
  // The package's post-install tries to start a system service; refused in a container, which is harmless.
  await run("apt-get", ["install", "-y", "-qq", "ejabberd"], { env, maxBuffer: 64 << 20 });
  if (!existsSync(EJABBERDCTL)) throw new StackError(`apt-get did not install ${EJABBERDCTL}`);
}

export interface EjabberdOptions extends Partial<EjabberdConfigOptions> {
  /** Part of the Erlang node name and of the directory name. */
  name: string;
  componentPassword: string;
  /** Soft open-files limit for the node: each XMPP session is a socket. */
  maxOpenFiles?: number;
  /**
   * c2s TLS: "self-signed" (the default) makes a certificate for the domain in
   * the server's directory; given files are copied in (tests make one per run);
   * "none" serves plain TCP, and its clients must set `insecure`.
   */
  tls?: TlsFiles | "self-signed" | "none";
}

export class PrivateEjabberd {
  readonly config: EjabberdConfigOptions;
  readonly dir: string;
  readonly nodeName: string;
  /** The certificate clients must trust (their caFile); undefined when the server has no TLS. */
  readonly caFile: string | undefined;
  readonly #maxOpenFiles: number;
  readonly #tls: TlsFiles | undefined;

  private constructor(
    dir: string,
    nodeName: string,
    config: EjabberdConfigOptions,
    maxOpenFiles: number,
    tls: TlsFiles | undefined,
  ) {
    this.dir = dir;
    this.nodeName = nodeName;
    this.config = config;
    this.#maxOpenFiles = maxOpenFiles;
    this.#tls = tls;
    this.caFile = tls?.certFile;
  }

  /** Write the config and directories; does not start the server. */
  static async create(options: EjabberdOptions): Promise<PrivateEjabberd> {
    const safe = options.name.replace(/[^a-z0-9_-]/gi, "").slice(0, 24) || "stack";
    const dir = await mkdtemp(join(tmpdir(), `jabmon-${safe}-`));
    const nodeName = `jabmon_${safe.replace(/-/g, "_")}_${process.pid}_${Date.now() % 100000}@localhost`;
    const domain = options.domain ?? "localhost";
    const tlsOption = options.tls ?? "self-signed";
    let tls: TlsFiles | undefined;
    if (tlsOption === "self-signed") {
      await mkdir(join(dir, "tls"), { recursive: true });
      tls = await generateSelfSignedCert(join(dir, "tls"), [domain, `*.${domain}`, "127.0.0.1"]);
    } else if (tlsOption !== "none") tls = tlsOption;
    const config: EjabberdConfigOptions = {
      domain,
      c2sPort: options.c2sPort ?? 5222,
      componentPort: options.componentPort ?? 5347,
      componentJid: options.componentJid ?? "monitor.localhost",
      componentPassword: options.componentPassword,
      bindIp: options.bindIp ?? "127.0.0.1",
      httpPort: options.httpPort,
      certFile: tls ? join(dir, "conf", "ejabberd.pem") : undefined,
      extraDomains: options.extraDomains,
      anonymousDomain: options.anonymousDomain,
      ...(options.pings ? { pings: options.pings } : {}),
    };
    const server = new PrivateEjabberd(dir, nodeName, config, options.maxOpenFiles ?? 16_000, tls);
    await server.#writeFiles();
    return server;
  }

  get c2sService(): string {
    return `xmpp://127.0.0.1:${this.config.c2sPort}`;
  }

  /** XMPP over WebSocket, when an httpPort was given. */
  get websocketUrl(): string | undefined {
    return this.config.httpPort ? `ws://127.0.0.1:${this.config.httpPort}/ws` : undefined;
  }

  get componentService(): string {
    return `xmpp://127.0.0.1:${this.config.componentPort}`;
  }

  async #writeFiles(): Promise<void> {
    const conf = join(this.dir, "conf");
    for (const sub of ["conf", "logs", "spool"])
      await mkdir(join(this.dir, sub), { recursive: true });
    await writeFile(join(conf, "ejabberd.yml"), ejabberdYaml(this.config), { mode: 0o640 });
    // A copy in the server's own directory: the ejabberd user can read it
    // wherever the caller keeps the original (a root-only temp dir in tests).
    if (this.#tls && this.config.certFile) await writeCombinedPem(this.#tls, this.config.certFile);
    // ejabberdctl points Erlang at CONFIG_DIR/inetrc and logs an error every 2 s without one.
    await writeFile(join(conf, "inetrc"), "{lookup, [file, native]}.\n");
    await writeFile(
      join(conf, "ejabberdctl.cfg"),
      ejabberdctlCfg(
        this.nodeName,
        join(conf, "ejabberd.yml"),
        join(this.dir, "spool", "ejabberd.pid"),
      ),
    );
    if (process.getuid?.() === 0) {
      const { uid, gid } = await ejabberdUser();
      for (const path of [
        this.dir,
        conf,
        join(this.dir, "logs"),
        join(this.dir, "spool"),
        join(conf, "ejabberd.yml"),
        join(conf, "ejabberdctl.cfg"),
        join(conf, "inetrc"),
        ...(this.config.certFile ? [this.config.certFile] : []),
      ]) {
        await chown(path, uid, gid);
      }
    }
  }

  /** Run ejabberdctl against this instance, as the ejabberd user with our limits. */
  async ctl(...args: string[]): Promise<string> {
    const conf = join(this.dir, "conf");
    const flags = [
      "--config-dir",
      conf,
      "--ctl-config",
      join(conf, "ejabberdctl.cfg"),
      "--logs",
      join(this.dir, "logs"),
      "--spool",
      join(this.dir, "spool"),
      "--node",
      this.nodeName,
    ];
    const command = [EJABBERDCTL, ...flags, ...args].map(shellQuote).join(" ");
    // As root, ejabberdctl re-runs itself through su and drops --ctl-config and our
    // ulimit; running it as the ejabberd user ourselves keeps both.
    // A request above the hard limit fails and would leave the soft limit at
    // its default (often 1024: "too many open files" at ~1,000 sessions), so
    // fall back to the hard limit.
    const script = `ulimit -Sn ${this.#maxOpenFiles} 2>/dev/null || ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true; exec ${command}`;
    const [file, argv] =
      process.getuid?.() === 0
        ? ["su", ["-s", "/bin/bash", "ejabberd", "-c", script]]
        : ["bash", ["-c", script]];
    try {
      const { stdout } = await run(file, argv as string[], {
        timeout: 60_000,
        maxBuffer: 16 << 20,
        cwd: this.dir,
      });
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new StackError(
        `ejabberdctl ${args.join(" ")} failed: ${(e.stderr || e.stdout || e.message).trim()}`,
      );
    }
  }

  async start(): Promise<void> {
    await this.ctl("start");
    try {
      await this.ctl("started");
    } catch (err) {
      const log = await readFile(join(this.dir, "logs", "error.log"), "utf8").catch(() => "");
      await this.stop();
      throw new StackError(
        `ejabberd did not start: ${log.split("\n").slice(-15).join("\n") || (err as Error).message}`,
      );
    }
  }

  async stop(): Promise<void> {
    await this.ctl("stop").catch(() => undefined);
    await this.ctl("stopped").catch(() => undefined);
    // A node that ignored stop must not outlive us.
    await run("pkill", ["-f", this.nodeName.split("@")[0] as string]).catch(() => undefined);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Create an account with ejabberdctl (slow, ~1 s; see registerAccount for in-band). */
  async register(user: string, password: string): Promise<void> {
    await this.ctl("register", user, this.config.domain, password);
  }

  /** Stop the server and delete its directory. */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

async function ejabberdUser(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run("id", ["ejabberd"]);
  const uid = /uid=(\d+)/.exec(stdout)?.[1];
  const gid = /gid=(\d+)/.exec(stdout)?.[1];
  if (!uid || !gid) throw new StackError("the ejabberd system user does not exist");
  return { uid: Number(uid), gid: Number(gid) };
}
