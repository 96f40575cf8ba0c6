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
