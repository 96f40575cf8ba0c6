// Bundle the host agent into one file: dist/jabmon-agent.mjs (docs/agent.md, "Memory").
// The agent imports loadConfig through src/config/index.ts, which also carries the
// component's zod schemas; here that import resolves to the loader alone so zod
// (~12 MB resident) never enters the agent.

import { chmodSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const configLoaderOnly = {
  name: "config-loader-only",
  setup(b) {
    b.onResolve({ filter: /\/config\/index\.js$/ }, (args) =>
      args.importer.includes(`${join("src", "agent")}`) ||
      args.importer.endsWith(join("src", "log", "index.ts"))
        ? { path: join(root, "src", "config", "load.ts") }
        : undefined,
    );
  },
};

const result = await build({
  entryPoints: [join(root, "src", "agent", "main.ts")],
  outfile: join(root, "dist", "jabmon-agent.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  sourcemap: false,
  metafile: true,
  // ltx is loaded with require() on purpose (one Element class for xmpp.js); keep CommonJS working.
  // The shebang carries the V8 and libuv settings measured in docs/agent.md ("Memory").
  banner: {
    js: [
      "#!/usr/bin/env -S UV_THREADPOOL_SIZE=2 MALLOC_ARENA_MAX=1 node --max-semi-space-size=1 --max-old-space-size=64 --lite-mode --no-expose-wasm --v8-pool-size=1 --expose-gc",
      "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    ].join("\n"),
  },
  plugins: [configLoaderOnly],
  logLevel: "warning",
});
chmodSync(join(root, "dist", "jabmon-agent.mjs"), 0o755);
const bytes = Object.values(result.metafile.outputs)[0].bytes;
const inputs = Object.keys(result.metafile.inputs);
if (inputs.some((p) => p.includes("node_modules/zod/")))
  throw new Error("zod leaked into the agent bundle");
console.log(
  `dist/jabmon-agent.mjs: ${(bytes / 1024).toFixed(0)} KiB from ${inputs.length} modules`,
);
