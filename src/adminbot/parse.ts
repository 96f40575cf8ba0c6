/**
 * What an admin types to the AdminBot, turned into a Command. Plain commands
 * and light natural language: "status", "what's down?", "status web01",
 * "disk on db*", "ack 42 looking into it", "unack 42", "silence web* for 2h deploy",
 * "run check_disk on web01", "help". Pure: no I/O, unit-tested.
 */
import { parseDuration } from "../rpc/index.js";

export type Command =
  | { kind: "help" }
  | { kind: "overview" }
  | { kind: "down"; state?: "critical" | "warning" | "unknown" }
  | { kind: "hosts"; pattern: string }
  | { kind: "check"; check: string; pattern: string }
  | { kind: "run"; check: string; pattern: string }
  | { kind: "alerts" }
  | { kind: "ack"; id: number; comment: string }
  | { kind: "unack"; id: number }
  | { kind: "silence"; pattern: string; durationS: number; comment: string }
  | { kind: "silences" }
  | { kind: "unsilence"; id: number }
  | { kind: "downtime"; pattern: string; durationS: number; comment: string }
  | { kind: "downtimes" }
  | { kind: "undowntime"; id: number }
  | { kind: "reload"; pattern: string }
  | { kind: "subscribe" }
  | { kind: "unsubscribe" }
  | { kind: "modules"; name?: string }
  | { kind: "unknown"; text: string; suggestions: string[] };

/** Commands a viewer (read-only) may use. */
export const READ_COMMANDS = new Set<Command["kind"]>([
  "help",
  "overview",
  "down",
  "hosts",
  "alerts",
  "silences",
  "subscribe",
  "unsubscribe",
  "modules",
  "downtimes",
  "unknown",
]);

/** Every command, as shown by "help" and offered as a suggestion. */
export const COMMAND_HELP: Array<[usage: string, what: string]> = [
  ["status", "overview of all hosts, worst first"],
  ["what's down?", "hosts that are down or failing"],
  ["what's critical?", "hosts whose state is critical (or warning, unknown)"],
  ["status <host|glob>", "state of matching hosts, e.g. status web*"],
  ["<check> on <host|glob>", "run a check now on online hosts, e.g. disk on db*"],
  ["run <check> on <host|glob>", "run a check; queued if the host is offline"],
  ["alerts", "open alerts"],
  ["ack <id> [comment]", "acknowledge an alert"],
  ["unack <id>", "withdraw an acknowledgement: notify and remind again"],
  ["silence <glob>[/<check>] for <duration> [comment]", "e.g. silence web* for 2h deploy"],
  ["silences", "active silences"],
  ["unsilence <id>", "end a silence"],
  [
    "downtime <glob>[/<check>] <duration> [comment]",
    "scheduled downtime from now: problems recorded, not notified; e.g. downtime web-* 2h 'kernel upgrade'",
  ],
  ["downtimes", "scheduled downtimes"],
  ["end downtime <id>", "end a downtime now"],
  ["reload <host>", "ask an agent to reload its configuration"],
  ["subscribe / unsubscribe", "get every alert from me as a chat message (phones too)"],
  ["modules [<name>]", "check modules, or which hosts run which version of one"],
  ["help", "this list"],
];

const KEYWORDS = [
  "status",
  "down",
  "run",
  "alerts",
  "ack",
  "unack",
  "silence",
  "silences",
  "unsilence",
  "downtime",
  "downtimes",
  "reload",
  "subscribe",
  "unsubscribe",
  "modules",
  "help",
];
const USAGE_FOR: Record<string, string> = {
  status: "status <host|glob>",
  down: "what's down?",
  run: "run <check> on <host|glob>",
  alerts: "alerts",
  ack: "ack <id> [comment]",
  unack: "unack <id>",
  silence: "silence <glob> for <duration> [comment]",
  silences: "silences",
  unsilence: "unsilence <id>",
  downtime: "downtime <glob>[/<check>] <duration> [comment]",
  downtimes: "downtimes",
  reload: "reload <host>",
  subscribe: "subscribe",
  unsubscribe: "unsubscribe",
  modules: "modules [<name>]",
  help: "help",
};

/** Levenshtein distance, for suggestions. */
export function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0] as number;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j] as number;
      previous[j] = Math.min(
        above + 1,
        (previous[j - 1] as number) + 1,
        diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return previous[b.length] as number;
}

/** Up to three usages whose keyword is closest to the first word typed. */
export function suggest(text: string): string[] {
  const word = text.toLowerCase().split(/\s+/)[0] ?? "";
  if (word === "") return [];
  return KEYWORDS.map((k) => ({ k, d: editDistance(word, k) }))
    .filter(({ k, d }) => d <= Math.max(2, Math.floor(k.length / 3)))
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, 3)
    .map(({ k }) => USAGE_FOR[k] as string);
}

const HOST = "([a-z0-9*?][a-z0-9*?._@-]*)";
const CHECK = "([a-z0-9_][a-z0-9_.:-]*)";
// A silence may name checks too: "silence web01/disk_root for 1h" (host glob, slash, check glob).
const SILENCE_TARGET = "([a-z0-9*?][a-z0-9*?._@-]*(?:/[a-z0-9*?_.:-]+)?)";
const DURATION =
  "(\\d+\\s*(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)(?:\\s*\\d+\\s*(?:m|mins?|minutes?|s|secs?|seconds?))?)";

const rules: Array<[RegExp, (m: RegExpMatchArray) => Command | undefined]> = [
  [/^(help|commands|\?|what can you do|usage)$/, () => ({ kind: "help" })],
  [
    /^(status|overview|summary|report|how are (things|we doing)|how is everything|all)$/,
    () => ({ kind: "overview" }),
  ],
  [
    /^((what'?s|what is|whats|is (anything|something)|anything|who'?s|who is|show( me)?|list)\s+)?(down|broken|failing|wrong|on fire|problems?|in trouble)$/,
    () => ({ kind: "down" }),
  ],
  [/^(problems|issues|outages)$/, () => ({ kind: "down" })],
  [
    /^((what'?s|what is|whats|which hosts are|who'?s|who is|show( me)?|list)\s+)?(critical|warning|unknown)( hosts)?$/,
    (m) => ({ kind: "down", state: m[m.length - 2] as "critical" | "warning" | "unknown" }),
  ],
  [
    /^(subscribe|sub|notify me|send me alerts|alert me)( to alerts)?$/,
    () => ({ kind: "subscribe" }),
  ],
  [
    /^(unsubscribe|unsub|stop alerts|stop notifying me|no more alerts)( from alerts)?$/,
    () => ({ kind: "unsubscribe" }),
  ],
  [/^((list|show( me)?|open)\s+)?alerts?$/, () => ({ kind: "alerts" })],
  [/^((list|show( me)?)\s+)?(silences|mutes)$/, () => ({ kind: "silences" })],
  [/^((list|show( me)?)\s+)?(downtimes|maintenance windows)$/, () => ({ kind: "downtimes" })],
  [
    /^(undowntime|(end|remove|delete|cancel) downtime|downtime\s+(remove|delete|end|cancel))\s+#?(\d{1,9})$/,
    (m) => ({ kind: "undowntime", id: Number(m[4]) }),
  ],
  [
    new RegExp(
      `^(downtime|maintenance)\\s+${SILENCE_TARGET}\\s+(for\\s+)?${DURATION}\\s*[:,-]?\\s*(.*)$`,
    ),
    (m) => {
      const durationS = parseDuration(m[4] as string);
      return durationS === undefined
        ? undefined
        : { kind: "downtime", pattern: m[2] as string, durationS, comment: (m[5] ?? "").trim() };
    },
  ],
  [
    /^((list|show( me)?)\s+)?modules?(\s+([a-z0-9][a-z0-9_.-]{0,62}))?$/,
    (m) => (m[5] ? { kind: "modules", name: m[5] } : { kind: "modules" }),
  ],
  [
    new RegExp(`^(status( of)?|how is|how's|hows|show( me)?|host|check on)\\s+${HOST}$`),
    (m) => ({ kind: "hosts", pattern: m[m.length - 1] as string }),
  ],
  [
    new RegExp(`^(run|execute|exec|rerun)\\s+(check\\s+)?${CHECK}\\s+(on|for|at)\\s+${HOST}$`),
    (m) => ({ kind: "run", check: m[3] as string, pattern: m[5] as string }),
  ],
  [
    new RegExp(`^(check\\s+)?${CHECK}\\s+(on|for|of|at)\\s+${HOST}$`),
    (m) => ({ kind: "check", check: m[2] as string, pattern: m[4] as string }),
  ],
  [
    /^(unack|unacknowledge)\s+(alert\s+)?#?(\d{1,9})$/,
    (m) => ({ kind: "unack", id: Number(m[3]) }),
  ],
  [
    /^(ack|acknowledge)\s+(alert\s+)?#?(\d{1,9})\s*[:,-]?\s*(.*)$/,
    (m) => ({ kind: "ack", id: Number(m[3]), comment: (m[4] ?? "").trim() }),
  ],
  [
    /^(unsilence|unmute|silence\s+(remove|delete|end)|remove silence|end silence)\s+#?(\d{1,9})$/,
    (m) => ({ kind: "unsilence", id: Number(m[3]) }),
  ],
  [
    new RegExp(`^(silence|mute)\\s+${SILENCE_TARGET}\\s+(for\\s+)?${DURATION}\\s*[:,-]?\\s*(.*)$`),
    (m) => {
      const durationS = parseDuration(m[4] as string);
      return durationS === undefined
        ? undefined
        : { kind: "silence", pattern: m[2] as string, durationS, comment: (m[5] ?? "").trim() };
    },
  ],
  [
    new RegExp(`^reload\\s+(agent\\s+)?${HOST}$`),
    (m) => ({ kind: "reload", pattern: m[2] as string }),
  ],
];

/** 'kernel upgrade' or "kernel upgrade" → kernel upgrade. */
const unquote = (text: string) => text.replace(/^(['"“‘])(.*)(['"”’])$/, "$2");

/** Lower-cases the words people type around a command, keeps the comment's case. */
export function parseCommand(input: string): Command {
  const raw = input
    .trim()
    .replace(/\s+/g, " ")
    .replace(/^(hey|hi|ok|please|pls|can you|could you|would you)[,\s]+/i, "")
    .replace(/^(please|pls|tell me)[,\s]+/i, "")
    .replace(/[\s?!.]+$/, "")
    .replace(/\s+(please|pls)$/i, "");
  const text = raw.toLowerCase().replace(/[’‘]/g, "'");
  for (const [pattern, build] of rules) {
    const match = text.match(pattern);
    if (!match) continue;
    const command = build(match);
    if (!command) continue;
    // Comments keep the case the admin typed.
    if (
      (command.kind === "ack" || command.kind === "silence" || command.kind === "downtime") &&
      command.comment
    ) {
      command.comment = unquote(raw.slice(raw.length - command.comment.length));
    }
    return command;
  }
  return { kind: "unknown", text: input.trim().slice(0, 200), suggestions: suggest(text) };
}
