/**
 * The documented Docker setup (issue 18, item 14), read statically: our
 * machines have no Docker engine, so the image is never built here. The
 * agent once ran as `node` with a spool directory it could not create, no
 * volume and no restart policy, and compose shipped `CHANGE-ME` passwords;
 * these tests read Dockerfile, docker-compose.yml and docker/ejabberd.yml,
 * and run scripts/docker-secrets.mjs on a copy, and check each of those
 * against what the code expects (the agent's default spool and socket, the
 * component's config checks).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, posix } from "node:path";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SPOOL_ROOT, loadAgentConfig, spoolDirOf } from "../../src/agent/index.js";
import { componentEnv, componentSchema, loadConfig } from "../../src/config/index.js";
import { assertHttpAccess } from "../../src/http/index.js";

const ROOT = join(import.meta.dirname, "..", "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

// --- Dockerfile ---------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions of a Dockerfile, continuation lines joined and comments dropped, one list per stage. */
function dockerStages(text: string): Instruction[][] {
  const logical = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ");
  const stages: Instruction[][] = [];
  for (const line of logical.split("\n")) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const keyword = (m[1] as string).toUpperCase();
    if (keyword === "FROM") stages.push([]);
    stages.at(-1)?.push({ keyword, args: (m[2] as string).trim() });
  }
  return stages;
}

/** What the RUN steps do to directories: made, owned (user, recursively or not) and their modes. */
function directorySteps(runs: Instruction[]) {
  const made: string[] = [];
  const owned: Array<{ owner: string; path: string; recursive: boolean }> = [];
  const modes = new Map<string, string>();
  for (const run of runs)
    for (const command of run.args.split(/&&|;/)) {
      const words = command.trim().split(/\s+/);
      const flags = words.slice(1).filter((w) => w.startsWith("-"));
      const rest = words.slice(1).filter((w) => !w.startsWith("-"));
      if (words[0] === "mkdir") made.push(...rest);
      if (words[0] === "chown") {
        const [owner, ...paths] = rest;
        for (const path of paths)
          owned.push({ owner: String(owner), path, recursive: flags.includes("-R") });
      }
      if (words[0] === "chmod") {
        const [mode, ...paths] = rest;
        for (const path of paths) modes.set(path, String(mode));
      }
    }
  return { made, owned, modes };
}

const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

describe("the Dockerfile", () => {
  const stages = dockerStages(read("Dockerfile"));
  const runtime = stages.at(-1) ?? [];
  const users = runtime.filter((i) => i.keyword === "USER");
  const beforeUser = runtime.slice(
    0,
    runtime.findIndex((i) => i.keyword === "USER"),
  );
  const dirs = directorySteps(beforeUser.filter((i) => i.keyword === "RUN"));
  const agent = loadAgentConfig(undefined, {
    JABMON_AGENT_JID: "agent1@localhost",
    JABMON_AGENT_PASSWORD: "agent-password-for-the-test",
  });
  const spoolDir = spoolDirOf(agent);
  const socketDir = posix.dirname(agent.socket.path);

  /** The directory is made before the image drops root, and `node` owns it (or a parent, recursively). */
  function ownedByNode(dir: string) {
    expect(
      dirs.made.some((m) => within(dir, m) || within(m, dir)),
      `${dir} is made`,
    ).toBe(true);
    expect(
      dirs.owned.some(
        (o) =>
          /^node(:node)?$/.test(o.owner) &&
          (o.path === dir || (o.recursive && within(dir, o.path))),
      ),
      `${dir} is owned by node`,
    ).toBe(true);
  }

  it("has a build stage and a runtime stage that runs as the unprivileged node user", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(users.map((u) => u.args)).toEqual(["node"]);
    expect(runtime.at(-1)).toEqual({
      keyword: "ENTRYPOINT",
      args: '["node", "dist/cli/main.js"]',
    });
  });

  it("makes the agent's default spool directory, owned by node and private, before it drops root", () => {
    expect(spoolDir).toBe(join(DEFAULT_SPOOL_ROOT, "agent1@localhost"));
    // The agent makes its per-JID directory itself, inside the spool root.
    ownedByNode(DEFAULT_SPOOL_ROOT);
    expect(dirs.modes.get(DEFAULT_SPOOL_ROOT)).toMatch(/^0?700$/);
  });

  it("makes the agent's socket directory, owned by node", () => {
    expect(agent.socket.path).toBe("/run/jabmon/agent.sock");
    ownedByNode(socketDir);
  });
});

// --- docker-compose.yml ---------------------------------------------------------

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  restart?: string;
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown>;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const compose = yaml.load(read("docker-compose.yml")) as Compose;
const service = (name: string) => compose.services[name] as Service;

/** `source:target[:mode]` of a compose volume entry. */
function mount(entry: string) {
  const [source = "", target = "", mode] = entry.split(":");
  return { source, target, mode, named: !source.startsWith(".") && !isAbsolute(source) };
}

/** Compose's `${VAR}`, `${VAR:?message}` and `${VAR:-default}`, against an environment. */
const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[?-])([^}]*))?\}/g;
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(INTERPOLATION, (_, name: string, how?: string, text?: string) => {
    const set = env[name];
    if (set !== undefined && set !== "") return set;
    if (how?.endsWith("?")) throw new Error(`${name} is required: ${text}`);
    return how?.endsWith("-") ? String(text) : "";
  });
}

/** Every value of a service's environment and command, with the interpolations in it. */
function composeValues() {
  const out: Array<{ where: string; value: string }> = [];
  for (const [name, s] of Object.entries(compose.services)) {
    for (const [key, value] of Object.entries(s.environment ?? {}))
      out.push({ where: `${name}.environment.${key}`, value: String(value) });
    for (const word of s.command ?? []) out.push({ where: `${name}.command`, value: word });
  }
  return out;
}

describe("docker-compose.yml", () => {
  it("restarts the agent and the component by themselves", () => {
    for (const name of ["agent", "component"])
      expect(["always", "unless-stopped", "on-failure"], name).toContain(service(name).restart);
  });

  it("keeps the agent's spool on a named volume, mounted where the image made the spool directory", () => {
    const agent = service("agent");
    const env = agent.environment ?? {};
    // The default spool, unless compose moved it.
    const spool =
      env.JABMON_AGENT_SPOOL_DIR ?? join(DEFAULT_SPOOL_ROOT, String(env.JABMON_AGENT_JID));
    const volume = (agent.volumes ?? []).map(mount).find((v) => v.named && within(spool, v.target));
    expect(volume, "a named volume holds the spool").toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(volume?.source);
    expect(volume?.mode).toBeUndefined(); // writable
    // Docker fills a new named volume from the image's directory, ownership
    // included: the mount point must be a directory the image gives to node.
    const dirs = directorySteps(
      (dockerStages(read("Dockerfile")).at(-1) ?? []).filter((i) => i.keyword === "RUN"),
    );
    expect(
      dirs.owned.some(
        (o) =>
          o.owner.startsWith("node") &&
          (o.path === volume?.target || (o.recursive && within(String(volume?.target), o.path))),
      ),
    ).toBe(true);
  });

  it("mounts the CA file the agent is told to trust", () => {
    const agent = service("agent");
    const ca = agent.environment?.JABMON_AGENT_CA_FILE;
    expect(ca).toBeDefined();
    expect((agent.volumes ?? []).map(mount).map((v) => v.target)).toContain(ca);
  });

  it("ships no secret: every password and secret comes from docker/secrets/.env, required, without a default", () => {
    const secretish = /PASSWORD|SECRET|BASIC|TOKEN|CTL_ON_CREATE/;
    const values = composeValues();
    for (const { where, value } of values) {
      expect(value, where).not.toMatch(/change-?me/i);
      // No default for anything: a missing secret must stop compose.
      for (const m of value.matchAll(INTERPOLATION)) expect(m[2], where).not.toMatch(/-$/);
    }
    const secrets = values.filter((v) => secretish.test(v.where));
    expect(secrets.map((s) => s.where)).toEqual(
      expect.arrayContaining([
        "ejabberd.environment.CTL_ON_CREATE",
        "component.environment.JABMON_COMPONENT_PASSWORD",
        "component.environment.JABMON_HTTP_BASIC",
        "agent.environment.JABMON_AGENT_PASSWORD",
      ]),
    );
    for (const { where, value } of secrets)
      expect(value, where).toMatch(/\$\{[A-Z0-9_]+:\?[^}]*\}/);
    // The password part of `register agent1 localhost <password>` too.
    expect(service("ejabberd").environment?.CTL_ON_CREATE).toMatch(/ \$\{[A-Z0-9_]+:\?[^}]*\}$/);
  });

  it("has ejabberd read the component secret from the generated include file, not from its config", () => {
    const config = yaml.load(read("docker/ejabberd.yml")) as {
      include_config_file?: Record<string, unknown>;
      listen: Array<{ module: string; hosts?: Record<string, { password?: string }> }>;
    };
    const listener = config.listen.find((l) => l.module === "ejabberd_service");
    const jid = String(service("component").environment?.JABMON_COMPONENT_JID);
    // The macro's name, replaced by ejabberd with its value from the include file.
    expect(listener?.hosts?.[jid]?.password).toBe("JABMON_COMPONENT_SECRET");
    const include = Object.keys(config.include_config_file ?? {});
    const mounted = (service("ejabberd").volumes ?? []).map(mount);
    for (const file of include) {
      const m = mounted.find((v) => v.target === file);
      expect(m?.source, file).toMatch(/^\.\/docker\/secrets\//);
    }
    expect(include.length).toBeGreaterThan(0);
  });
});

// --- scripts/docker-secrets.mjs -------------------------------------------------

describe("scripts/docker-secrets.mjs", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Run the script on a copy of the repository layout it writes into; returns docker/secrets/. */
  function generate(): string {
    const dir = mkdtempSync(join(tmpdir(), "jabmon-docker-"));
    dirs.push(dir);
    mkdirSync(join(dir, "scripts"));
    copyFileSync(join(ROOT, "scripts/docker-secrets.mjs"), join(dir, "scripts/docker-secrets.mjs"));
    execFileSync(process.execPath, [join(dir, "scripts/docker-secrets.mjs")], {
      env: { PATH: process.env.PATH },
      stdio: "pipe",
    });
    return join(dir, "docker", "secrets");
  }
  const dotenv = (secrets: string) =>
    Object.fromEntries(
      readFileSync(join(secrets, ".env"), "utf8")
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    ) as Record<string, string>;

  let first: string;
  let env: Record<string, string>;
  beforeAll(() => {
    first = generate();
    env = dotenv(first);
  });
  /** A service's environment as compose passes it with that .env. */
  const environment = (name: string) =>
    Object.fromEntries(
      Object.entries(service(name).environment ?? {}).map(([k, v]) => [
        k,
        interpolate(String(v), env),
      ]),
    ) as Record<string, string>;

  it("defines every variable compose requires, so compose starts", () => {
    for (const { where, value } of composeValues())
      expect(() => interpolate(value, env), where).not.toThrow();
  });

  it("gives the component a secret it accepts, the same ejabberd reads", () => {
    const component = environment("component");
    const config = loadConfig(componentSchema, { envMap: componentEnv, env: component });
    expect(config.xmpp.password).toMatch(/^[0-9a-f]{48}$/);
    // Bound beyond loopback, the status page has credentials, or the component would refuse to start.
    expect(config.http.host).toBe("0.0.0.0");
    expect(() => assertHttpAccess(config.http)).not.toThrow();
    expect(config.monitor.agents.length).toBeGreaterThan(0);
    const macro = yaml.load(readFileSync(join(first, "jabmon-secret.yml"), "utf8")) as {
      define_macro: Record<string, string>;
    };
    expect(macro.define_macro.JABMON_COMPONENT_SECRET).toBe(config.xmpp.password);
  });

  it("gives the agent the password ejabberd registers it with, and a spool on its volume", () => {
    const agentEnv = environment("agent");
    const agent = loadAgentConfig(undefined, agentEnv);
    const [, user, domain, password] = interpolate(
      String(service("ejabberd").environment?.CTL_ON_CREATE),
      env,
    ).split(" ");
    expect(`${user}@${domain}`).toBe(agent.xmpp.jid);
    expect(agent.xmpp.password).toBe(password);
    expect(String(password).length).toBeGreaterThanOrEqual(24);
    expect(
      (service("agent").volumes ?? [])
        .map(mount)
        .some((v) => v.named && within(spoolDirOf(agent), v.target)),
    ).toBe(true);
  });

  it("writes the secrets privately, with a certificate and key for ejabberd, and new ones each time", () => {
    expect(statSync(first).mode & 0o777).toBe(0o700);
    expect(statSync(join(first, ".env")).mode & 0o777).toBe(0o600);
    const pem = readFileSync(join(first, "ejabberd.pem"), "utf8");
    expect(pem).toContain("PRIVATE KEY");
    expect(pem).toContain("BEGIN CERTIFICATE");
    expect(readFileSync(join(first, "ca.pem"), "utf8")).toContain("BEGIN CERTIFICATE");
    const second = dotenv(generate());
    for (const key of [
      "JABMON_COMPONENT_SECRET",
      "JABMON_AGENT1_PASSWORD",
      "JABMON_STATUS_BASIC",
    ]) {
      expect(env[key], key).toBeTruthy();
      expect(second[key], key).not.toBe(env[key]);
    }
  });

  it("leaves existing secrets alone when run again", () => {
    const before = readFileSync(join(first, ".env"), "utf8");
    // first is <copy>/docker/secrets: the script is <copy>/scripts/docker-secrets.mjs.
    execFileSync(process.execPath, [join(dirname(dirname(first)), "scripts/docker-secrets.mjs")], {
      env: { PATH: process.env.PATH },
      stdio: "pipe",
    });
    expect(readFileSync(join(first, ".env"), "utf8")).toBe(before);
  });
});
