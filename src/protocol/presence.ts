/**
 * The agent's status presence (docs/protocol.md, "Status presence").
 *
 *   <presence to="monitor.localhost">
 *     <show>dnd</show>
 *     <status>2 checks failing: disk /var 96%, load 9.1</status>
 *     <x xmlns="urn:jabmon:0" host="web01" version="0.1.0" state="critical" checks="20" failing="2"/>
 *   </presence>
 *
 * `<show>`/`<status>` are for people (any roster shows them); `<x/>` is for machines.
 */
import { type Element, el } from "../xmpp/ltx.js";
import { NS_JABMON } from "./ns.js";

export const HOST_STATES = ["ok", "warning", "critical", "unknown"] as const;
export type HostState = (typeof HOST_STATES)[number];

/** RFC 6121 <show/> for each state; "ok" is plain available presence. */
const SHOW_FOR_STATE: Record<HostState, string | undefined> = {
  ok: undefined,
  warning: "away",
  critical: "dnd",
  unknown: "xa",
};
const STATE_FOR_SHOW: Record<string, HostState> = {
  chat: "ok",
  away: "warning",
  dnd: "critical",
  xa: "unknown",
};

export interface AgentStatus {
  host: string;
  version: string;
  state: HostState;
  /** One line a person reads at a glance. */
  summary: string;
  checks?: number;
  failing?: number;
}

export const LIMITS = { host: 253, version: 64, summary: 1024 } as const;

export function statusPresence(status: AgentStatus, to: string): Element {
  const show = SHOW_FOR_STATE[status.state];
  return el(
    "presence",
    { to },
    show ? el("show", {}, show) : undefined,
    el("status", {}, status.summary),
    el("x", {
      xmlns: NS_JABMON,
      host: status.host,
      version: status.version,
      state: status.state,
      checks: status.checks,
      failing: status.failing,
    }),
  );
}

export interface ParsedStatus {
  status: Partial<AgentStatus>;
  /** What was wrong with the payload; each item was dropped, the rest kept. */
  problems: string[];
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/;
// Printable text without control characters, as a person will read it on a page.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

function countAttr(x: Element, name: string, problems: string[]): number | undefined {
  const raw = x.attrs[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (Number.isInteger(n) && n >= 0 && n <= 1_000_000) return n;
  problems.push(`${name}: not a count (${String(raw).slice(0, 20)})`);
  return undefined;
}

/**
 * Lenient parse: a bad field is dropped and reported, never the whole
 * presence, so the host is still recorded with what was valid.
 */
export function parseStatusPresence(presence: Element, maxPayloadBytes = 4096): ParsedStatus {
  const problems: string[] = [];
  const status: Partial<AgentStatus> = {};
  const show = presence.getChildText("show");
  if (show && STATE_FOR_SHOW[show]) status.state = STATE_FOR_SHOW[show];
  else if (!show) status.state = "ok";
  const text = presence.getChildText("status");
  if (text !== null) {
    const clean = text.replace(CONTROL, "");
    if (clean.length > LIMITS.summary)
      problems.push(`status: longer than ${LIMITS.summary} characters, truncated`);
    status.summary = clean.slice(0, LIMITS.summary);
  }
  const x = presence.getChild("x", NS_JABMON);
  if (!x) return { status, problems };
  const size = x.toString().length;
  if (size > maxPayloadBytes) {
    problems.push(`x: payload of ${size} bytes exceeds the ${maxPayloadBytes}-byte limit, ignored`);
    return { status, problems };
  }
  const { host, version, state } = x.attrs as Record<string, string | undefined>;
  if (host !== undefined) {
    if (host.length <= LIMITS.host && HOSTNAME.test(host)) status.host = host;
    else problems.push(`host: not a host name (${host.slice(0, 40)})`);
  }
  if (version !== undefined) {
    const clean = version.replace(CONTROL, "");
    if (clean.length > 0 && clean.length <= LIMITS.version) status.version = clean;
    else problems.push("version: empty or too long");
  }
  if (state !== undefined) {
    if ((HOST_STATES as readonly string[]).includes(state)) status.state = state as HostState;
    else problems.push(`state: not one of ${HOST_STATES.join(", ")} (${state.slice(0, 20)})`);
  }
  const checks = countAttr(x, "checks", problems);
  if (checks !== undefined) status.checks = checks;
  const failing = countAttr(x, "failing", problems);
  if (failing !== undefined) status.failing = failing;
  return { status, problems };
}
