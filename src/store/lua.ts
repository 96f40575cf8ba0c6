/**
 * The one loader of the Redis Lua scripts. As in BullMQ, each script is a
 * file named after its command and key count (`lua/publishItem-9.lua`;
 * without a count, as `commitEntries.lua`, the caller passes the number of
 * keys first), in a `lua/` folder beside the module that runs it, with its
 * KEYS and ARGV listed in a header comment.
 *
 * Two preprocessing steps, done once when the script is first defined:
 * - a line `--- @include "includes/name"` is replaced by that file (shared
 *   Lua functions, relative to the including file);
 * - `${NAME}` is replaced by a constant the module passes, so a number the
 *   TypeScript side shares (AGENT_SEQ_REORDER_SPAN) has one definition.
 *
 * The build copies the .lua files into dist/ (scripts/copy-lua.mjs): tsc
 * does not. Files are read when first defined, never at import, so a bundle
 * that imports a module without running its scripts (the agent) needs none.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Redis } from "./redis.js";

export interface LuaScript {
  readonly file: URL;
  /** From the file name's `-N`; undefined: the caller passes the key count first. */
  readonly numberOfKeys: number | undefined;
  /** The script's text, includes and constants resolved (read once). */
  readonly lua: string;
}

const INCLUDE = /^--- @include "([^"]+)"[ \t]*$/gm;
const CONSTANT = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function readLua(file: URL): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(
      `Lua script ${fileURLToPath(file)} cannot be read (${(err as Error).message}); ` +
        "a build must copy the .lua files (npm run build, scripts/copy-lua.mjs)",
    );
  }
}

function resolve(file: URL, constants: Readonly<Record<string, string | number>>): string {
  const text = readLua(file).replace(INCLUDE, (_, name: string) =>
    readLua(new URL(`${name}.lua`, file)).replace(/\n$/, ""),
  );
  return text.replace(CONSTANT, (_, name: string) => {
    const value = constants[name];
    if (value === undefined) throw new Error(`${fileURLToPath(file)}: no value for \${${name}}`);
    return String(value);
  });
}

/**
 * The script `lua/<name>.lua` beside the module at `moduleUrl` (pass
 * `import.meta.url`), with the constants its text refers to.
 */
export function luaScript(
  moduleUrl: string,
  name: string,
  constants: Readonly<Record<string, string | number>> = {},
): LuaScript {
  const file = new URL(`lua/${name}.lua`, moduleUrl);
  const count = /-(\d+)$/.exec(name)?.[1];
  let lua: string | undefined;
  return {
    file,
    numberOfKeys: count === undefined ? undefined : Number(count),
    get lua() {
      lua ??= resolve(file, constants);
      return lua;
    },
  };
}

/**
 * Defines each script as a command of `redis` (ioredis runs it by EVALSHA and
 * falls back to EVAL when Redis does not have it cached), once per
 * connection: a second store on the same connection finds them defined.
 * Returns the connection typed with the commands.
 */
export function defineScripts<Scripted extends Redis>(
  redis: Redis,
  scripts: Readonly<Record<string, LuaScript>>,
): Scripted {
  const commands = redis as unknown as Record<string, unknown>;
  for (const [name, script] of Object.entries(scripts)) {
    if (typeof commands[name] === "function") continue;
    const { numberOfKeys, lua } = script;
    redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
  }
  return redis as Scripted;
}
