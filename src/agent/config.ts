/**
 * The agent's configuration (docs/agent.md, "Configuration"): defaults < YAML
 * or JSON file < JABMON_AGENT_* variables, validated here with valibot (about
 * 1 MB loaded, where zod costs the agent ~12 MB). Errors name the key and the
 * reason, e.g. `checks.2.port: must be a port number (in /etc/jabmon/agent.yml)`.
 */
import { join } from "node:path";
import * as v from "valibot";
import { type EnvMap, loadConfig, readSecretFile, type Validator } from "../config/index.js";

const num = (message: string) =>
  v.pipe(
    v.union([v.number(message), v.pipe(v.string(message), v.trim(), v.nonEmpty(message))], message),
    v.transform(Number),
    v.check((n: number) => Number.isFinite(n), message),
  );
const int = (message: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(num(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
const positive = (message: string) => v.pipe(num(message), v.gtValue(0, message));
const flag = (message: string) =>
  v.union(
    [
      v.boolean(),
      v.pipe(
        v.picklist(["true", "false", "1", "0"]),
        v.transform((s) => s === "true" || s === "1"),
      ),
    ],
    message,
  );
const text = (message: string, max = 1024) =>
  v.pipe(v.string(message), v.minLength(1, message), v.maxLength(max, message));
const domain = v.pipe(
  v.string("must be a domain name such as monitor.localhost"),
  v.regex(/^[a-z0-9.-]{1,1023}$/i, "must be a domain name such as monitor.localhost"),
);
const seconds = positive("must be a number of seconds greater than 0");
const labels = v.record(
  v.pipe(v.string(), v.regex(/^[\w.-]{1,64}$/, "label names are letters, digits, _ . -")),
  v.pipe(v.string("label values must be strings"), v.maxLength(256)),
);

const common = {
  name: v.pipe(
    v.string("is required: a name for the check"),
    v.regex(/^[\w.:/@-]{1,64}$/, "must be 1-64 letters, digits or _ . : / @ -"),
  ),
  /** Seconds between runs; defaults to the top-level `interval`. */
  interval: v.optional(v.pipe(seconds, v.minValue(0.05, "must be at least 0.05 s"))),
  /** Seconds a run may take before it is abandoned (result unknown). */
  timeout: v.optional(seconds),
  labels: v.optional(labels),
  /** Consecutive bad results before the monitor alerts (sent as the `jabmon.attempts` label). */
  attempts: v.optional(int("must be an integer 1-100", 1, 100)),
  /** Seconds within which the monitor expects the next result, else it is "unknown (stale result)". */
  freshness: v.optional(v.pipe(seconds, v.minValue(1, "must be at least 1 s"))),
  /** Seconds between runs while the check is bad but not yet for `attempts` runs (soft). */
  retryInterval: v.optional(v.pipe(seconds, v.minValue(0.05, "must be at least 0.05 s"))),
  warn: v.optional(num("must be a number")),
  crit: v.optional(num("must be a number")),
};

const check = v.variant(
  "type",
  [
    v.strictObject({ type: v.literal("cpu"), ...common }),
    v.strictObject({
      type: v.literal("load"),
      ...common,
      /** Compare thresholds with load divided by the number of CPUs. */
      perCpu: v.optional(flag("must be true or false"), false),
    }),
    v.strictObject({ type: v.literal("memory"), ...common }),
    v.strictObject({ type: v.literal("swap"), ...common }),
    v.strictObject({
      type: v.literal("disk"),
      ...common,
      /** Mount points; all real file systems when absent. */
      mounts: v.optional(v.array(text("must be a mount point such as /var"))),
    }),
    v.strictObject({
      type: v.literal("network"),
      ...common,
      interfaces: v.optional(v.array(text("must be an interface name"))),
    }),
    v.strictObject({ type: v.literal("uptime"), ...common }),
    v.strictObject({
      type: v.literal("process"),
      ...common,
      process: text("is required: the process name as in /proc/PID/comm", 255),
      min: v.optional(int("must be an integer ≥ 0", 0)),
      max: v.optional(int("must be an integer ≥ 0", 0)),
    }),
    v.strictObject({
      type: v.literal("tcp"),
      ...common,
      host: v.optional(text("must be a host name or address", 253), "127.0.0.1"),
      port: int("must be a port number", 1, 65535),
    }),
    v.strictObject({
      type: v.literal("nagios"),
      ...common,
      command: v.pipe(
        v.string("is required: the plugin's absolute path"),
        v.startsWith("/", "must be an absolute path (no shell is used)"),
      ),
      args: v.optional(v.array(v.string("arguments must be strings")), []),
    }),
  ],
  "must have a type: cpu, load, memory, swap, disk, network, uptime, process, tcp or nagios",
);
export type CheckConfig = v.InferOutput<typeof check>;

const severity = v.picklist(
  ["info", "warning", "critical"],
  "must be one of info, warning, critical",
);

const logWatch = v.strictObject({
  path: v.pipe(v.string("is required"), v.startsWith("/", "must be an absolute path")),
  /** Regular expressions (JavaScript syntax); a line matching any becomes an event. */
  match: v.pipe(
    v.union([v.string(), v.array(v.string())], "must be a regular expression or a list of them"),
    v.transform((m) => (typeof m === "string" ? [m] : m)),
    v.check((list) => {
      try {
        for (const re of list) new RegExp(re);
        return list.length > 0;
      } catch {
        return false;
      }
    }, "must be valid regular expressions"),
  ),
  severity: v.optional(severity, "warning"),
  tag: v.optional(text("must be text", 64)),
  /** Events per minute at most; the rest are counted and reported as `suppressed`. */
  maxPerMinute: v.optional(int("must be an integer ≥ 1", 1), 10),
});
export type LogWatchConfig = v.InferOutput<typeof logWatch>;

const fileWatch = v.union(
  [
    v.pipe(
      v.string(),
      v.startsWith("/", "must be an absolute path"),
      v.transform((path) => ({ path, recursive: false })),
    ),
    v.strictObject({
      path: v.pipe(v.string("is required"), v.startsWith("/", "must be an absolute path")),
      recursive: v.optional(flag("must be true or false"), false),
    }),
  ],
  "must be an absolute path or { path, recursive }",
);

const schema = v.object({
  xmpp: v.optional(
    v.object({
      /**
       * ejabberd's c2s address, or several (a list, or comma-separated in
       * JABMON_AGENT_SERVICE) for the nodes of a cluster: the agent moves to
       * the next one when a connection attempt fails.
       */
      service: v.optional(
        v.pipe(
          v.union(
            [v.string(), v.array(v.string())],
            "must look like xmpp://HOST:PORT, or be a list of such",
          ),
          v.transform((s) =>
            (typeof s === "string" ? s.split(",") : s).map((one) => one.trim()).filter(Boolean),
          ),
          v.minLength(1, "must look like xmpp://HOST:PORT, or be a list of such"),
          v.check(
            (list) => list.every((one) => /^xmpps?:\/\/[^/\s]+:\d+$/.test(one)),
            "must look like xmpp://HOST:PORT, or be a list of such",
          ),
        ),
        "xmpp://127.0.0.1:5222",
      ),
      jid: v.pipe(
        v.string("is required: the agent's own bare JID"),
        v.regex(/^[^@/\s]+@[^@/\s]+$/, "must be a bare JID such as agent1@localhost"),
      ),
      password: text("is required"),
      resource: v.optional(text("must be 1-64 characters", 64), "agent"),
      /** The jabmon component the agent reports to. */
      component: v.optional(domain, "monitor.localhost"),
      /** XEP-0198 stream management (docs/agent.md explains why it is off by default). */
      streamManagement: v.optional(flag("must be true or false"), false),
      reconnectMaxDelayMs: v.optional(int("must be milliseconds ≥ 100", 100), 30_000),
      /** PEM CA certificates trusted besides Node's store (a self-signed ejabberd's certificate). */
      caFile: v.optional(text("must be a path to a PEM file", 4096)),
      /** Allow login over plain TCP when the server offers no STARTTLS: loopback tests only. */
      insecure: v.optional(flag("must be true or false"), false),
    }),
    {} as never,
  ),
  host: v.optional(text("must be 1-253 characters", 253)),
  /** Groups this agent is in; check modules target groups (docs/modules.md). */
  groups: v.optional(
    v.pipe(
      v.union([v.array(v.string()), v.string()], "must be a list of group names"),
      v.transform((g) => (typeof g === "string" ? g.split(/[\s,]+/).filter(Boolean) : g)),
      v.check(
        (list) => list.every((g) => /^[\w.-]{1,64}$/.test(g)),
        "group names are 1-64 letters, digits, _ . -",
      ),
    ),
    [],
  ),
  /** base64 raw Ed25519 public keys whose signed modules this agent runs. */
  trustedKeys: v.optional(
    v.array(
      v.pipe(
        v.string("must be a base64 Ed25519 public key"),
        v.regex(/^[A-Za-z0-9+/]{43}=$/, "must be a base64 Ed25519 public key (44 characters)"),
      ),
    ),
    [],
  ),
  modules: v.optional(
    v.object({
      /** Pull check modules from the component (they run only if signed by a trusted key). */
      enabled: v.optional(flag("must be true or false"), true),
      /** Verified modules kept for disconnected starts. Default: `<spool.dir>.modules`. */
      cacheDir: v.optional(text("must be a directory", 4096)),
    }),
    {},
  ),
  /** Hosts this one depends on (docs/monitor.md, "Alerting for large fleets"), sent in presence. */
  depends_on: v.optional(
    v.pipe(
      v.array(
        v.pipe(
          v.string(),
          v.regex(/^[A-Za-z0-9._-]{1,253}(@[A-Za-z0-9.-]{1,253})?$/, "must be host names or JIDs"),
        ),
      ),
      v.maxLength(16, "at most 16 parents"),
    ),
    [],
  ),
  /** Default seconds between check runs (and status evaluations). */
  interval: v.optional(seconds, 10),
  /** When absent: load and disk use of /. An empty list runs no checks. */
  checks: v.optional(v.array(check)),
  logs: v.optional(v.array(logWatch), []),
  files: v.optional(v.array(fileWatch), []),
  spool: v.optional(
    v.object({
      /** Default: /var/lib/jabmon/spool/<bare JID>. */
      dir: v.optional(text("must be a directory", 4096)),
      maxBytes: v.optional(int("must be bytes ≥ 4096", 4096), 32 << 20),
      maxAgeS: v.optional(seconds, 7 * 86400),
      fsync: v.optional(v.picklist(["always", "never"], "must be always or never"), "always"),
    }),
    {},
  ),
  publish: v.optional(
    v.object({
      /** Publish IQs in flight at most. */
      window: v.optional(int("must be an integer 1-100", 1, 100), 10),
      /**
       * Results per `<results/>` request when a backlog waits (the service
       * must offer it: docs/protocol.md, "Replaying a backlog"); 1 turns it off.
       */
      batch: v.optional(int("must be an integer 1-100", 1, 100), 50),
      timeoutMs: v.optional(int("must be milliseconds ≥ 100", 100), 30_000),
    }),
    {},
  ),
  socket: v.optional(
    v.object({
      enabled: v.optional(flag("must be true or false"), true),
      path: v.optional(text("must be a path", 107), "/run/jabmon/agent.sock"),
      mode: v.optional(
        v.pipe(
          v.union([v.string(), v.number()], "must be an octal mode such as 0660"),
          v.transform(String),
          v.regex(/^0?[0-7]{3}$/, "must be an octal mode such as 0660"),
          v.transform((s) => Number.parseInt(s, 8)),
        ),
        "0660",
      ),
      /** Group that may use the socket (name or gid); the agent's own when absent. */
      group: v.optional(v.union([v.string(), v.number()], "must be a group name or gid")),
    }),
    {},
  ),
  plugins: v.optional(
    v.object({
      maxOutputBytes: v.optional(int("must be bytes ≥ 256", 256), 64 * 1024),
    }),
    {},
  ),
});

export type AgentConfig = v.InferOutput<typeof schema>;

/** Where the spool is when `spool.dir` is not set: one directory per bare JID (the Dockerfile makes this one). */
export const DEFAULT_SPOOL_ROOT = "/var/lib/jabmon/spool";
export const spoolDirOf = (config: AgentConfig): string =>
  config.spool.dir ?? join(DEFAULT_SPOOL_ROOT, config.xmpp.jid);

/** A module's check definitions, checked as config `checks`; throws naming the entry and field. */
export function parseChecks(list: unknown): CheckConfig[] {
  const result = v.safeParse(v.array(check), list);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = (issue.path ?? []).map((p) => String(p.key)).join(".");
  throw new Error(`checks.${path}: ${issue.message}`);
}

/** loadConfig's view of the valibot schema. */
export const agentSchema: Validator<AgentConfig> = {
  safeParse(input) {
    const result = v.safeParse(schema, input);
    if (result.success) return { success: true, data: result.output };
    return {
      success: false,
      error: {
        issues: result.issues.map((issue) => ({
          path: (issue.path ?? []).map((p) => p.key as PropertyKey),
          // A missing key is reported by the object, not by the key's schema.
          message:
            issue.kind === "schema" &&
            issue.received === "undefined" &&
            issue.message.startsWith("Invalid key")
              ? "is required"
              : issue.message,
        })),
      },
    };
  },
};

export const agentEnv: EnvMap = {
  JABMON_AGENT_SERVICE: "xmpp.service",
  JABMON_AGENT_JID: "xmpp.jid",
  JABMON_AGENT_PASSWORD: "xmpp.password",
  JABMON_AGENT_RESOURCE: "xmpp.resource",
  JABMON_COMPONENT_JID: "xmpp.component",
  JABMON_AGENT_STREAM_MANAGEMENT: "xmpp.streamManagement",
  JABMON_AGENT_CA_FILE: "xmpp.caFile",
  JABMON_AGENT_INSECURE: "xmpp.insecure",
  JABMON_AGENT_HOST: "host",
  JABMON_AGENT_INTERVAL: "interval",
  JABMON_AGENT_SPOOL_DIR: "spool.dir",
  JABMON_AGENT_SOCKET: "socket.path",
  JABMON_AGENT_GROUPS: "groups",
  JABMON_AGENT_MODULE_CACHE: "modules.cacheDir",
};

/**
 * `passwordFile` (from `jabmon agent --password-file`) wins over the file and
 * the environment; JABMON_AGENT_PASSWORD_FILE works like it (config/load.ts).
 */
export function loadAgentConfig(
  file?: string,
  env: NodeJS.ProcessEnv = process.env,
  passwordFile?: string,
): AgentConfig {
  const overrides = passwordFile
    ? { "xmpp.password": readSecretFile(passwordFile, "--password-file") }
    : undefined;
  return loadConfig(agentSchema, { file, env, envMap: agentEnv, overrides });
}
