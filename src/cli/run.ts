/**
 * Shared plumbing for CLI commands: human-readable failures, graceful stop on
 * SIGINT/SIGTERM.
 */
import { ConfigError } from "../config/index.js";
import { HttpAccessError } from "../http/index.js";
import { StackError } from "../stack/index.js";
import { RegistrationError } from "../xmpp/index.js";

/** Errors a user can fix: print the message only, no stack trace. */
const USER_ERRORS = [ConfigError, StackError, RegistrationError, HttpAccessError];
/** Matched by name so that the agent's CLI does not load the monitor's modules. */
const USER_ERROR_NAMES = new Set(["RuleError", "NotifyError", "ModuleError"]);

export function fail(err: unknown): never {
  if (
    USER_ERRORS.some((kind) => err instanceof kind) ||
    USER_ERROR_NAMES.has((err as Error)?.name)
  ) {
    process.stderr.write(`jabmon: ${(err as Error).message}\n`);
  } else {
    process.stderr.write(`jabmon: ${(err as Error)?.stack ?? String(err)}\n`);
  }
  process.exit(1);
}

/** Run `stop` once on SIGINT or SIGTERM, then exit. A second signal exits at once. */
export function stopOnSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`\njabmon: ${signal}, shutting down…\n`);
    stop().then(
      () => process.exit(0),
      (err) => fail(err),
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
