/**
 * A real, private test stack per test file: ejabberd on free ports, the shared
 * Redis under a unique key prefix, and helpers to run the component, agents
 * (as child processes, so they can be SIGKILLed) and plain XMPP clients.
 * A test file gets one with `const stack = useStack("name")`.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@xmpp/client";
import { afterAll, beforeAll, inject } from "vitest";
import { createClient } from "../../src/client/index.js";
import { type ComponentConfig, componentSchema } from "../../src/config/index.js";
import { createLogger, silentLogger } from "../../src/log/index.js";
import { type RunningComponent, startComponent } from "../../src/server/index.js";
import { freePort, PrivateEjabberd } from "../../src/stack/index.js";

export { freePort };

import { createRedis, deletePrefix, type Redis } from "../../src/store/index.js";
import { registerAccount } from "../../src/xmpp/index.js";
import { waitFor } from "./wait.js";

export const CLI = join(import.meta.dirname, "..", "..", "dist", "cli", "main.js");
export const REDIS_URL = process.env.JABMON_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface Account {
  user: string;
  jid: string;
  password: string;
  /** The account's domain when not the stack's own. */
  domain?: string;
}

/**
 * `started: false` leaves ejabberd stopped (for tests of starting without a server);
 * `http: true` adds ejabberd's WebSocket (/ws) and BOSH (/bosh) listener;
 * `tls: false` serves plain TCP (no STARTTLS offered), for tests of the client's refusal;
 * `extraDomains`, `anonymousDomain`: more virtual hosts (the authorisation matrix's actors).
 */
export interface StackOptions {
  started?: boolean;
  http?: boolean;
  tls?: boolean;
  extraDomains?: string[];
  anonymousDomain?: string;
}

/**
 * The calling test file's stack: started in a beforeAll, cleaned up in an
 * afterAll. The object is handed out at once and usable once that beforeAll
 * ran, so the file's own hooks registered after this call see it started
 * (vitest runs beforeAll hooks in order) and run their afterAll work before
 * the stack goes (afterAll hooks run in reverse). An afterAll that must run
 * after the cleanup (closing a proxy the component talks through) is
 * registered before this call.
 */
export function useStack(name: string, options: StackOptions = {}): TestStack {
  const stack = TestStack.unstarted(name, options);
  beforeAll(() => stack.boot());
  afterAll(() => stack.cleanup());
  return stack;
}

export class TestStack {
  readonly prefix = `jabmon-test:${randomUUID()}:`;
  readonly componentJid = "monitor.localhost";
  readonly domain = "localhost";
  readonly #children: ChildProcess[] = [];
  readonly #clients: Client[] = [];
  readonly #components: RunningComponent[] = [];
  readonly #agentDirs = new Set<string>();
  #ejabberd: PrivateEjabberd | undefined;
  #redis: Redis | undefined;

  private constructor(
    readonly name: string,
    readonly options: StackOptions,
  ) {}

  /** Create and start a stack now (useStack() does it in a beforeAll). */
  static async start(name: string, options: StackOptions = {}): Promise<TestStack> {
    const stack = new TestStack(name, options);
    await stack.boot();
    return stack;
  }

  /** A stack that boot() starts later: what useStack() returns before its beforeAll ran. */
  static unstarted(name: string, options: StackOptions = {}): TestStack {
    return new TestStack(name, options);
  }

  get ejabberd(): PrivateEjabberd {
    if (!this.#ejabberd)
      throw new Error(
        `the test stack "${this.name}" is not started (useStack's beforeAll has not run)`,
      );
    return this.#ejabberd;
  }

  /**
   * The CA file clients trust: the run's self-signed certificate, which the
   * server presents under STARTTLS (required). Undefined for a `tls: false` stack.
   */
  get caFile(): string | undefined {
    return this.ejabberd.caFile;
  }

  /** Create the private ejabberd on free ports and start it (unless `started: false`). */
  async boot(): Promise<void> {
    const {
      started = true,
      http = false,
      tls = true,
      extraDomains = [],
      anonymousDomain = undefined,
    } = this.options;
    for (let attempt = 1; ; attempt++) {
      const ejabberd = await PrivateEjabberd.create({
        name: this.name,
        c2sPort: await freePort(),
        componentPort: await freePort(),
        // XMPP over WebSocket and BOSH, for browser tests.
        httpPort: http ? await freePort() : undefined,
        componentPassword: randomBytes(16).toString("hex"),
        tls: tls ? (inject("jabmonTls") ?? "self-signed") : "none",
        extraDomains,
        anonymousDomain,
      });
      try {
        if (started) await ejabberd.start();
        this.#ejabberd = ejabberd;
        return;
      } catch (err) {
        await ejabberd.destroy().catch(() => {});
        // Two stacks drawing the same free port at once: draw again.
        const message = String((err as Error).message);
        const portTaken =
          message.includes("eaddrinuse") || message.includes("Overlapping listeners");
        if (attempt >= 3 || !portTaken) throw err;
      }
    }
  }

  /** A Redis connection (the shared Redis) for checking state; disconnected at cleanup. */
  redis(): Redis {
    this.#redis ??= createRedis(REDIS_URL, silentLogger());
    return this.#redis;
  }

  componentConfig(overrides: Partial<Record<string, unknown>> = {}): ComponentConfig {
    return componentSchema.parse({
      xmpp: {
        service: this.ejabberd.componentService,
        jid: this.componentJid,
        password: this.ejabberd.config.componentPassword,
      },
      redis: { url: REDIS_URL, prefix: this.prefix },
      http: { host: "127.0.0.1", port: 0 },
      monitor: { agentDomains: [this.domain], presenceConfirmMs: 3000 },
      ...overrides,
    });
  }

  async startComponent(
    overrides: Partial<Record<string, unknown>> = {},
  ): Promise<RunningComponent> {
    // JABMON_TEST_COMPONENT_LOG=debug shows an in-process component's log when a test fails.
    const level = process.env.JABMON_TEST_COMPONENT_LOG;
    const log = level ? createLogger("test-component", level) : silentLogger();
    const running = await startComponent(this.componentConfig(overrides), log);
    this.#components.push(running);
    return running;
  }

  async account(
    user = `agent-${randomBytes(4).toString("hex")}`,
    domain = this.domain,
  ): Promise<Account> {
    const password = randomBytes(8).toString("hex");
    await registerAccount(this.ejabberd.c2sService, domain, user, password, this.#tls());
    return { user, jid: `${user}@${domain}`, password, domain };
  }

  /** Environment for a `jabmon component` child process on this stack. */
  componentEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      JABMON_LOG_LEVEL: "info",
      JABMON_COMPONENT_SERVICE: this.ejabberd.componentService,
      JABMON_COMPONENT_JID: this.componentJid,
      JABMON_COMPONENT_PASSWORD: this.ejabberd.config.componentPassword,
      JABMON_REDIS_URL: REDIS_URL,
      JABMON_REDIS_PREFIX: this.prefix,
      JABMON_HTTP_PORT: "0",
      ...extra,
    };
  }

  /** A private directory for one agent's spool and socket (agents on one machine must not share them). */
  agentDir(account: Account): string {
    const dir = join(tmpdir(), `jabmon-agent-${this.prefix.slice(12, 20)}-${account.user}`);
    this.#agentDirs.add(dir);
    return dir;
  }

  /** Environment for a `jabmon agent` child process logging in as `account`. */
  agentEnv(account: Account, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      JABMON_AGENT_SPOOL_DIR: join(this.agentDir(account), "spool"),
      JABMON_AGENT_SOCKET: join(this.agentDir(account), "agent.sock"),
      JABMON_LOG_LEVEL: process.env.JABMON_TEST_LOG_LEVEL ?? "warn",
      JABMON_AGENT_SERVICE: this.ejabberd.c2sService,
      JABMON_AGENT_JID: account.jid,
      JABMON_AGENT_PASSWORD: account.password,
      JABMON_COMPONENT_JID: this.componentJid,
      ...this.tlsEnv("JABMON_AGENT"),
      ...extra,
    };
  }

  /** How this stack's clients secure their connection: trust its CA, or plain TCP on a `tls: false` stack. */
  #tls(): { caFile?: string; insecure?: boolean } {
    return this.caFile ? { caFile: this.caFile } : { insecure: true };
  }

  /** The same for a child process: `${PREFIX}_CA_FILE` or `${PREFIX}_INSECURE` (JABMON_AGENT, JABMON_ADMINBOT...). */
  tlsEnv(prefix: string): Record<string, string> {
    return this.caFile
      ? { [`${prefix}_CA_FILE`]: this.caFile }
      : { [`${prefix}_INSECURE`]: "true" };
  }

  /** Run the jabmon CLI as a child process (stopped at cleanup). */
  spawnCli(args: string[], env: NodeJS.ProcessEnv): ChildProcess & { output: () => string } {
    const child = spawn(process.execPath, [CLI, ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (data: Buffer) => {
      output += data.toString();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    this.#children.push(child);
    return Object.assign(child, { output: () => output });
  }

  spawnAgent(account: Account, extra: Record<string, string> = {}) {
    return this.spawnCli(["agent"], this.agentEnv(account, extra));
  }

  /** A plain XMPP client (xmpp.js), online, for talking to the component like any user would. */
  async client(account?: Account): Promise<Client> {
    const who = account ?? (await this.account(`client-${randomBytes(4).toString("hex")}`));
    const xmpp = createClient({
      service: this.ejabberd.c2sService,
      domain: who.domain ?? this.domain,
      username: who.user,
      password: who.password,
      resource: "test",
      ...this.#tls(),
    });
    xmpp.on("error", () => {});
    this.#clients.push(xmpp);
    await xmpp.start();
    return xmpp;
  }

  /** Stop everything this stack started and delete its Redis keys; nothing to do if it never started. */
  async cleanup(): Promise<void> {
    if (!this.#ejabberd) return;
    for (const child of this.#children) if (child.exitCode === null) child.kill("SIGKILL");
    await Promise.all(this.#clients.map((c) => c.stop().catch(() => {})));
    await Promise.all(this.#components.map((c) => c.stop().catch(() => {})));
    await this.#ejabberd.destroy();
    for (const dir of this.#agentDirs) await rm(dir, { recursive: true, force: true });
    const redis = this.redis();
    await deletePrefix(redis, this.prefix);
    redis.disconnect();
  }
}

export async function hostsFrom(url: string): Promise<Array<Record<string, unknown>>> {
  const response = await fetch(`${url}/api/hosts`);
  return (await response.json()) as Array<Record<string, unknown>>;
}

export async function waitForHost(
  url: string,
  jid: string,
  predicate: (host: Record<string, unknown>) => boolean,
  timeoutMs: number,
) {
  return waitFor(async () => (await hostsFrom(url)).find((h) => h.jid === jid && predicate(h)), {
    timeoutMs,
    what: `host ${jid}`,
  });
}
