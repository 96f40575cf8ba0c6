/**
 * One pino logger factory for every jabmon process. JSON to stdout; the level
 * comes from JABMON_LOG_LEVEL. Secrets are redacted by path so that a config
 * object logged by mistake never leaks a password.
 */
import { type Logger, pino } from "pino";

export type { Logger };

const REDACT_PATHS = ["password", "*.password", "*.*.password", "token", "*.token", "secret"];

export function createLogger(name: string, level = process.env.JABMON_LOG_LEVEL ?? "info"): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: "[redacted]" } });
}

/** A logger that drops everything, for library use and tests. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
