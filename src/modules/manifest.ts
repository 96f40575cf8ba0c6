/**
 * A check module's manifest (docs/modules.md): what a module is, checked field
 * by field so that a bad manifest names the field and the reason.
 *
 * The check definitions are kept as plain objects here: their shape is the
 * agent's `checks` entries (src/agent/config.ts), validated by the agent (and
 * by `jabmon module sign`) with the agent's own schema, so the two never drift.
 */

/** Who a module is for: agents in any of these groups, or whose JID or host name matches a glob. */
export interface ModuleTarget {
  groups: string[];
  hosts: string[];
}

export interface ModuleFile {
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
  /** Unix permission bits, e.g. 0o755 for a plugin. */
  mode: number;
}

export interface Manifest {
  name: string;
  /** A positive integer; every new version of a module has a higher one. */
  version: number;
  /** The lowest agent version (x.y.z) that may run it. */
  minAgentVersion: string;
  target: ModuleTarget;
  /** Check definitions, the same shape as the agent's config `checks`. */
  checks: Array<Record<string, unknown>>;
  /** Every file the module ships, by relative path. */
  files: Record<string, ModuleFile>;
  description?: string;
}

export class ModuleError extends Error {
  override name = "ModuleError";
  constructor(
    /** The field at fault (`version`, `files.scripts/x.sh.sha256`), or a reason code. */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export const MODULE_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
export const GROUP_NAME = /^[\w.-]{1,64}$/;
/** Relative paths of plain segments: no `..`, no leading `/`, no empty segment. */
const FILE_PATH = /^(?!.*(?:^|\/)\.\.?(?:\/|$))[\w.-]+(?:\/[\w.-]+){0,7}$/;
const SEMVER = /^(\d{1,6})\.(\d{1,6})\.(\d{1,6})$/;
const SHA256 = /^[0-9a-f]{64}$/;
const MAX_CHECKS = 200;
const MAX_FILES = 64;

export const isModuleFilePath = (path: string) => path.length <= 255 && FILE_PATH.test(path);

/** -1, 0 or 1 as semver a is below, equal to or above b (x.y.z only). */
export function compareVersions(a: string, b: string): number {
  const pa = SEMVER.exec(a);
  const pb = SEMVER.exec(b);
  if (!pa || !pb) throw new ModuleError("minAgentVersion", `not a version x.y.z (${a} / ${b})`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function stringList(value: unknown, field: string, pattern: RegExp, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ModuleError(field, `must be a list of ${what}`);
  return value.map((entry, i) => {
    if (typeof entry !== "string" || !pattern.test(entry))
      throw new ModuleError(`${field}.${i}`, `must be ${what}`);
    return entry;
  });
}

function parseTarget(value: unknown): ModuleTarget {
  if (!isObject(value))
    throw new ModuleError("target", "is required: { groups: [...] } and/or { hosts: [globs] }");
  for (const key of Object.keys(value))
    if (key !== "groups" && key !== "hosts")
      throw new ModuleError(`target.${key}`, "unknown key (groups, hosts)");
  const target = {
    groups: stringList(
      value.groups,
      "target.groups",
      GROUP_NAME,
      "group names (letters, digits, _ . -)",
    ),
    hosts: stringList(value.hosts, "target.hosts", /^[^\s]{1,253}$/, "host or JID globs"),
  };
  if (target.groups.length === 0 && target.hosts.length === 0)
    throw new ModuleError(
      "target",
      'names no group and no host (use hosts: ["*"] for every agent)',
    );
  return target;
}

function parseFiles(value: unknown): Record<string, ModuleFile> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new ModuleError("files", "must map paths to { sha256, mode }");
  const entries = Object.entries(value);
  if (entries.length > MAX_FILES) throw new ModuleError("files", `at most ${MAX_FILES} files`);
  const files: Record<string, ModuleFile> = {};
  for (const [path, entry] of entries) {
    if (!isModuleFilePath(path))
      throw new ModuleError(`files.${path}`, "must be a relative path without . or .. segments");
    if (!isObject(entry)) throw new ModuleError(`files.${path}`, "must be { sha256, mode }");
    if (typeof entry.sha256 !== "string" || !SHA256.test(entry.sha256))
      throw new ModuleError(`files.${path}.sha256`, "must be 64 lower-case hex digits");
    const mode = entry.mode ?? 0o644;
    if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0o777)
      throw new ModuleError(
        `files.${path}.mode`,
        "must be permission bits 0-0o777 (e.g. 493 = 0755)",
      );
    files[path] = { sha256: entry.sha256, mode };
  }
  return files;
}

/** Validate a manifest object (from JSON); throws ModuleError naming the field. */
export function parseManifest(value: unknown): Manifest {
  if (!isObject(value)) throw new ModuleError("manifest", "must be a JSON object");
  const known = new Set([
    "name",
    "version",
    "minAgentVersion",
    "target",
    "checks",
    "files",
    "description",
  ]);
  for (const key of Object.keys(value))
    if (!known.has(key)) throw new ModuleError(key, `unknown key (${[...known].join(", ")})`);
  const { name, version, minAgentVersion, checks, description } = value;
  if (typeof name !== "string" || !MODULE_NAME.test(name))
    throw new ModuleError(
      "name",
      "is required: 1-63 of a-z 0-9 _ . - (starting with a letter or digit)",
    );
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 1)
    throw new ModuleError("version", "is required: an integer ≥ 1, higher for every new version");
  const minimum = minAgentVersion ?? "0.0.0";
  if (typeof minimum !== "string" || !SEMVER.test(minimum))
    throw new ModuleError("minAgentVersion", "must be a version x.y.z");
  if (!Array.isArray(checks))
    throw new ModuleError("checks", "is required: a list of check definitions");
  if (checks.length > MAX_CHECKS) throw new ModuleError("checks", `at most ${MAX_CHECKS} checks`);
  const names = new Set<string>();
  for (const [i, check] of checks.entries()) {
    if (!isObject(check)) throw new ModuleError(`checks.${i}`, "must be a check definition object");
    if (typeof check.name === "string") {
      if (names.has(check.name))
        throw new ModuleError(`checks.${i}.name`, `duplicate check ${check.name}`);
      names.add(check.name);
    }
  }
  if (description !== undefined && (typeof description !== "string" || description.length > 1024))
    throw new ModuleError("description", "must be text of at most 1024 characters");
  const manifest: Manifest = {
    name,
    version,
    minAgentVersion: minimum,
    target: parseTarget(value.target),
    checks: checks as Array<Record<string, unknown>>,
    files: parseFiles(value.files),
  };
  if (description !== undefined) manifest.description = description as string;
  return manifest;
}
