/**
 * Configuration = defaults < YAML/JSON file < environment variables, validated
 * by one zod schema. Errors name the key and the reason, e.g.
 * `invalid configuration: redis.url: must be a redis:// URL (from JABMON_REDIS_URL)`.
 */
import { readFileSync } from "node:fs";
import yaml from "js-yaml";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Environment variable name → dotted config key. */
export type EnvMap = Record<string, string>;

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split(".");
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== "object" || node[part] === null) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1] as string] = value;
}

export function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed = file.endsWith(".json") ? JSON.parse(text) : yaml.load(text);
    if (parsed === undefined || parsed === null) return {};
    if (typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error("the top level must be a mapping of keys to values");
    }
    return parsed as Tree;
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid: ${(err as Error).message}`);
  }
}

/** Environment variables holding a secret; each may instead name a file with `<NAME>_FILE`. */
const SECRET_VARIABLE = /_(PASSWORD|TOKEN|BASIC)$/;

/**
 * A secret read from a file (a Docker or systemd credential, a 0600 file), so
 * that it need not sit in the environment or on a command line, where `ps`
 * and /proc/PID/cmdline show it to every local user. One trailing newline is
 * dropped. `what` names the option or variable in the error.
 */
export function readSecretFile(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${what}: cannot read ${file}: ${(err as Error).message}`);
  }
  const secret = text.replace(/\r?\n$/, "");
  if (secret === "") throw new ConfigError(`${what}: ${file} is empty`);
  return secret;
}

/** `NAME`, or the content of the file `NAME_FILE` names; both set is an error. */
export function secretFromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  const file = env[`${name}_FILE`];
  if (file === undefined || file === "") return value === "" ? undefined : value;
  if (value !== undefined && value !== "")
    throw new ConfigError(`set ${name} or ${name}_FILE, not both`);
  return readSecretFile(file, `${name}_FILE`);
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  envMap: EnvMap;
  /** Values set by the caller (e.g. CLI flags); they win over everything. */
  overrides?: Tree;
  /** Where an override came from, by key (e.g. `role` → `--role`), for the error message. */
  overrideOrigins?: Record<string, string>;
}

/**
 * What loadConfig needs from a schema: zod schemas fit as they are; the agent
 * adapts a valibot schema (zod costs the agent ~12 MB of memory).
 */
export interface Validator<T> {
  safeParse(
    input: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } };
}

export function loadConfig<T>(schema: Validator<T>, options: LoadOptions): T {
  const env = options.env ?? process.env;
  const tree: Tree = options.file ? readConfigFile(options.file) : {};
  const fromEnv = new Map<string, string>();
  for (const [name, path] of Object.entries(options.envMap)) {
    const secret = SECRET_VARIABLE.test(name);
    const value = secret ? secretFromEnv(env, name) : env[name];
    if (value === undefined || value === "") continue;
    setPath(tree, path, value);
    fromEnv.set(path, secret && env[`${name}_FILE`] ? `${name}_FILE` : name);
  }
  for (const [path, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(tree, path, value);
    const origin = options.overrideOrigins?.[path];
    if (origin) fromEnv.set(path, origin);
    else fromEnv.delete(path);
  }
  const result = schema.safeParse(tree);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const key = issue.path.map(String).join(".") || "(top level)";
    const origin = fromEnv.get(key)
      ? ` (from ${fromEnv.get(key)})`
      : options.file
        ? ` (in ${options.file})`
        : "";
    return `  ${key}: ${issue.message}${origin}`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}
