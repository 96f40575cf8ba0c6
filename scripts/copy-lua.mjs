// Copy the Redis Lua scripts (src/**/*.lua) into dist/ at the same paths: tsc
// compiles only TypeScript, and each module reads its scripts from lua/ beside
// itself at run time (src/store/lua.ts).

import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const dist = join(root, "dist");

function* luaFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* luaFiles(path);
    else if (entry.name.endsWith(".lua")) yield path;
  }
}

let copied = 0;
for (const from of luaFiles(src)) {
  const to = join(dist, relative(src, from));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  copied += 1;
}
if (copied === 0) throw new Error("no .lua files under src/");
