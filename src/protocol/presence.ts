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
  /** The agent's groups (config `groups`), which modules target. */
  groups?: string[];
  /** The check modules it runs, as name@version. */
  modules?: string[];
  /**
   * The hosts this one depends on (a switch, a hypervisor): when one is down
   * its dependants' problems are "unreachable" rather than alerted. Sent as
   * the `depends` attribute, names separated by spaces.
   */
  dependsOn?: string[];
}

export const LIMITS = { host: 253, version: 64, summary: 1024, dependsOn: 16 } as const;

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
      groups: status.groups?.length ? status.groups.join(" ") : undefined,
      modules: status.modules?.length ? status.modules.join(" ") : undefined,
      depends: status.dependsOn?.length ? status.dependsOn.join(" ") : undefined,
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

const GROUP = /^[\w.-]{1,64}$/;
const MODULE_AT = /^[a-z0-9][a-z0-9_.-]{0,62}@\d{1,15}$/;

/** A space-separated attribute; entries that do not match are dropped and reported. */
function wordList(x: Element, name: string, pattern: RegExp, problems: string[]): string[] {
  const raw = x.attrs[name];
  if (raw === undefined) return [];
  const words = String(raw).split(/\s+/).filter(Boolean).slice(0, 100);
  const good = words.filter((w) => pattern.test(w));
  if (good.length < words.length) problems.push(`${name}: malformed entries dropped`);
  return good;
}

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
  // Absent means none: a host that stops running modules must not keep showing them.
  status.groups = wordList(x, "groups", GROUP, problems);
  status.modules = wordList(x, "modules", MODULE_AT, problems);
  const depends = parseDepends(x.attrs.depends, problems);
  if (depends) status.dependsOn = depends;
  return { status, problems };
}

/** A parent is a host name, a JID's local part or a bare JID. */
const PARENT = /^[A-Za-z0-9._-]{1,253}(@[A-Za-z0-9.-]{1,253})?$/;

function parseDepends(raw: unknown, problems: string[]): string[] | undefined {
  if (typeof raw !== "string") return undefined;
  const names = raw.split(/\s+/).filter(Boolean);
  const valid = names.filter((n) => PARENT.test(n));
  if (valid.length < names.length) problems.push("depends: names that are not host names dropped");
  if (valid.length > LIMITS.dependsOn)
    problems.push(`depends: more than ${LIMITS.dependsOn} parents, the rest dropped`);
  return valid.slice(0, LIMITS.dependsOn);
}
