/**
 * The XEP-0045 (Multi-User Chat) steps jabmon's bots take: join a room
 * without its history, and unlock a room they created. The AdminBot (a
 * client) and the component's alert sink both join rooms; one definition
 * keeps their stanzas the same.
 */
import { type Element, el } from "./ltx.js";

export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_MUC_USER = "http://jabber.org/protocol/muc#user";
export const NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner";
const NS_DATA = "jabber:x:data";
const ROOMCONFIG_FORM = "http://jabber.org/protocol/muc#roomconfig";

/**
 * The presence that joins `room` as `nick`, asking for no history (XEP-0045
 * §7.2.15): old messages, commands among them, must not be taken for new ones.
 */
export function mucJoin(room: string, nick: string, from?: string): Element {
  return el(
    "presence",
    { from, to: `${room}/${nick}` },
    el("x", { xmlns: NS_MUC }, el("history", { maxstanzas: 0 })),
  );
}

/** The status codes of a MUC presence (110: this is us; 201: we created the room). */
export function mucStatusCodes(presence: Element): string[] {
  return (presence.getChild("x", NS_MUC_USER)?.getChildren("status") ?? []).map((s) =>
    String(s.attrs.code),
  );
}

/**
 * The owner's configuration form that unlocks a room we created (XEP-0045
 * §10.1.2, status 201). No fields: the default configuration ("instant room").
 */
export function mucUnlock(room: string, fields: Record<string, string> = {}, from?: string) {
  const entries = Object.entries(fields);
  const form = el(
    "x",
    { xmlns: NS_DATA, type: "submit" },
    ...(entries.length > 0
      ? [
          el("field", { var: "FORM_TYPE" }, el("value", {}, ROOMCONFIG_FORM)),
          ...entries.map(([name, value]) => el("field", { var: name }, el("value", {}, value))),
        ]
      : []),
  );
  return el("iq", { type: "set", from, to: room }, el("query", { xmlns: NS_MUC_OWNER }, form));
}

export interface RoomSeatOptions {
  room: string;
  nick: string;
  /** Our own JID (components must say who they are; clients leave it out). */
  from?: string;
  send: (stanza: Element) => void;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** A join with no answer by then is sent again. */
  answerTimeoutMs?: number;
  /** Delays between tries after a refusal: doubling from the first to the last. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Called with the status codes of our own presence once we are in. */
  onJoined?: (codes: string[]) => void;
}

export interface RoomSeat {
  /** Join now (on every new connection: the room forgets us when it drops). */
  join(): void;
  /** Feed every presence stanza; true if it was about our seat in the room. */
  onPresence(stanza: Element): boolean;
  /** Forget pending tries (connection lost or shutting down). */
  stop(): void;
  readonly joined: boolean;
}

/**
 * Keeps a bot seated in a room. A join can be refused or go unanswered: right
 * after an ejabberd restart the MUC service may not route yet, a ghost of our
 * previous session may still hold the nick (conflict), or the room may be
 * destroyed under us. Each of those is retried with a growing delay instead of
 * leaving the bot out of its room until the next reconnect.
 */
export function keepRoomSeat(options: RoomSeatOptions): RoomSeat {
  const { room, nick, from, send, log } = options;
  const answerTimeoutMs = options.answerTimeoutMs ?? 15_000;
  const retryMinMs = options.retryMinMs ?? 2_000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  const seat = `${room}/${nick}`.toLowerCase();
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let joined = false;

  const clear = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const retryLater = (reason: object) => {
    clear();
    const delayMs = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(failures, 16));
    failures += 1;
    log.warn({ room, ...reason, retryInMs: delayMs }, "not in room, joining again later");
    timer = setTimeout(join, delayMs);
  };
  function join() {
    clear();
    joined = false;
    send(mucJoin(room, nick, from));
    timer = setTimeout(() => retryLater({ reason: "no answer" }), answerTimeoutMs);
  }
  function onPresence(stanza: Element): boolean {
    if (String(stanza.attrs.from ?? "").toLowerCase() !== seat) return false;
    const type = stanza.attrs.type;
    if (type === "error") {
      const condition = stanza.getChild("error")?.getChildElements()[0]?.name;
      retryLater({ condition });
      return true;
    }
    const codes = mucStatusCodes(stanza);
    if (type === "unavailable") {
      // Kicked, banned or the room destroyed or shut down: try to get back in.
      if (joined) retryLater({ reason: "removed from the room", codes });
      return true;
    }
    if (!joined) {
      clear();
      failures = 0;
      joined = true;
      log.info({ room }, "joined room");
      options.onJoined?.(codes);
    }
    return true;
  }
  return {
    join,
    onPresence,
    stop: () => {
      clear();
      joined = false;
    },
    get joined() {
      return joined;
    },
  };
}
