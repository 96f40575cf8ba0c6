/**
 * Entry point of the single-file agent bundle (scripts/bundle-agent.mjs →
 * dist/jabmon-agent.mjs): `node dist/jabmon-agent.mjs [-c FILE] [--password-file FILE]`. Does what
 * `jabmon agent` does without loading commander or the component's code, so
 * the host agent stays small (docs/agent.md, "Memory").
 */
import { ConfigError } from "../config/index.js";
import { createLogger } from "../log/index.js";
import { loadAgentConfig, startAgent } from "./index.js";

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "agent") args.shift();
  const optionValue = (...names: string[]) => {
    const at = args.findIndex((a) => names.includes(a));
    return at >= 0 ? args[at + 1] : undefined;
  };
  const file = optionValue("-c", "--config") ?? process.env.JABMON_AGENT_CONFIG;
  // The password from a file, never on the command line (docs/agent.md, "Passwords").
  const passwordFile = optionValue("--password-file");
  const log = createLogger("jabmon-agent");
  const load = () => loadAgentConfig(file, process.env, passwordFile);
  const running = await startAgent(load(), log, { reloadConfig: load });
  // SIGHUP reloads checks and watchers; a bad file is logged and changes nothing.
  process.on("SIGHUP", () => {
    running.reload().catch((err: Error) => log.error({ err: err.message }, "reload failed"));
  });
  // Started with --expose-gc: a full collection a minute keeps the small heap from
  // drifting up between V8's own (lazy) major collections; a few ms each.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) setInterval(gc, 60_000).unref();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`jabmon-agent: ${signal}, shutting down…\n`);
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err: Error) => {
  process.stderr.write(`jabmon-agent: ${err instanceof ConfigError ? err.message : err.stack}\n`);
  process.exit(1);
});
