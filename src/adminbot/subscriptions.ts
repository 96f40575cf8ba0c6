/**
 * "subscribe": people (phone XMPP clients included) get every alert from the
 * bot as a chat message, a one-line summary first. The bot subscribes its
 * own bare JID to the component's `alerts` pubsub node (so it must be in the
 * component's `pubsub.subscribers`) and relays each new item to the people
 * subscribed. Who is subscribed is kept in the bot's roster on the server, in
 * the group "jabmon alerts": it survives restarts of the bot and needs no
 * storage of its own.
 *
 * https://xmpp.org/extensions/xep-0060.html  RFC 6121 §2 (roster management)
 */
import { type Client, xml } from "@xmpp/client";
import type { Logger } from "../log/index.js";
import { bareJid } from "../xmpp/index.js";

const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
const NS_ROSTER = "jabber:iq:roster";
const NS_JABMON = "urn:jabmon:0";
export const ALERTS_GROUP = "jabmon alerts";
const ALERTS_NODE = "alerts";
/** An alert dispatched twice replaces its item and is notified twice: relay it once. */
const REMEMBERED = 1000;

type Stanza = ReturnType<typeof xml>;

const LABEL: Record<string, string> = {
  down: "DOWN",
  up: "UP",
  critical: "CRIT",
  warning: "WARN",
  unknown: "UNKN",
  ok: "OK",
  failed: "FAIL",
  start: "FLAPPING",
  stop: "SETTLED",
};

export interface AlertFields {
  num?: string;
  kind: string;
  jid: string;
  host?: string;
  check?: string;
  state: string;
  previous?: string;
  renotify?: string;
  text: string;
}

/**
 * A message for a small screen: "DOWN web01 #42" (or "CRIT web01 disk #43",
 * "OK web01 disk") on the first line, then the detail, then how to
 * acknowledge. Pure; unit-tested.
 */
export function phoneAlert(a: AlertFields): string {
  const name = a.jid.split("@")[0] || a.host || a.jid;
  const label = LABEL[a.state] ?? a.state.toUpperCase();
  const reminder = a.renotify ? "REMINDER " : "";
  const what = a.check ? `${name} ${a.check}` : name;
  const problem = a.num && !["up", "ok", "stop"].includes(a.state);
  const first = `${reminder}${label} ${what}${problem ? ` #${a.num}` : ""}`;
  const detail = a.text.length > 280 ? `${a.text.slice(0, 279)}…` : a.text;
  const lines = [first];
  if (detail) lines.push(detail);
  lines.push(`${a.host && a.host !== a.jid ? `${a.host} ` : ""}(${a.jid})`);
  if (problem) lines.push(`Reply "ack ${a.num}" to acknowledge.`);
  return lines.join("\n");
}

function alertFields(alert: Stanza): AlertFields | undefined {
  if (alert.name !== "alert" || alert.attrs.xmlns !== NS_JABMON) return undefined;
  const a = alert.attrs as Record<string, string | undefined>;
  if (!a.jid || !a.state || !a.kind) return undefined;
  return {
    num: a.num,
    kind: a.kind,
    jid: a.jid,
    host: a.host,
    check: a.check,
    state: a.state,
    previous: a.previous,
    renotify: a.renotify,
    text: alert.getChildText("text") ?? "",
  };
}

export class AlertSubscribers {
  readonly #xmpp: Client;
  readonly #component: string;
  readonly #log: Logger;
  readonly #people = new Set<string>();
  readonly #seen = new Set<string>();
  #listening = false;

  constructor(options: { xmpp: Client; component: string; log: Logger }) {
    this.#xmpp = options.xmpp;
    this.#component = options.component;
    this.#log = options.log;
    // Roster pushes (RFC 6121 §2.1.6) are acknowledged; our own set is the truth here.
    this.#xmpp.iqCallee.set(NS_ROSTER, "query", () => true);
  }

  /** On every (re)connection: read the subscribers from the roster, listen to the alerts node. */
  async online(): Promise<void> {
    const reply = await this.#xmpp.iqCaller.request(
      xml("iq", { type: "get" }, xml("query", { xmlns: NS_ROSTER })),
    );
    this.#people.clear();
    for (const item of reply.getChild("query", NS_ROSTER)?.getChildren("item") ?? []) {
      const groups = item.getChildren("group").map((g: Stanza) => g.text());
      if (groups.includes(ALERTS_GROUP) && item.attrs.jid)
        this.#people.add(bareJid(item.attrs.jid));
    }
    try {
      // The bare JID: one subscription whatever the resource, idempotent across restarts.
      await this.#xmpp.iqCaller.request(
        xml(
          "iq",
          { type: "set", to: this.#component },
          xml(
            "pubsub",
            { xmlns: NS_PUBSUB },
            xml("subscribe", { node: ALERTS_NODE, jid: bareJid(String(this.#xmpp.jid)) }),
          ),
        ),
      );
      this.#listening = true;
      this.#log.info({ subscribers: this.#people.size }, "listening to the alerts node");
    } catch (err) {
      this.#listening = false;
      this.#log.warn(
        { err: (err as Error).message },
        "cannot subscribe to the alerts node: add the bot's JID to the component's pubsub.subscribers",
      );
    }
  }

  async add(person: string): Promise<string> {
    const jid = bareJid(person);
    await this.#roster(
      xml("item", { jid, name: jid.split("@")[0] }, xml("group", {}, ALERTS_GROUP)),
    );
    this.#people.add(jid);
    this.#log.info({ jid }, "subscribed to alerts");
    const warning = this.#listening
      ? ""
      : " (I cannot read alerts yet: my JID must be in the monitor's pubsub.subscribers.)";
    return `Subscribed: every alert comes to ${jid} as a chat message, summary first. "unsubscribe" stops them.${warning}`;
  }

  async remove(person: string): Promise<string> {
    const jid = bareJid(person);
    if (!this.#people.has(jid)) return "You are not subscribed to alerts.";
    await this.#roster(xml("item", { jid, subscription: "remove" }));
    this.#people.delete(jid);
    this.#log.info({ jid }, "unsubscribed from alerts");
    return "Unsubscribed: no more alerts from me.";
  }

  /** A pubsub notification from the component: relay each new alert to every subscriber. */
  relay(stanza: Stanza, send: (stanza: Stanza) => void): boolean {
    if (bareJid(String(stanza.attrs.from ?? "")) !== this.#component) return false;
    const items = stanza.getChild("event", NS_EVENT)?.getChild("items");
    if (!items || items.attrs.node !== ALERTS_NODE) return false;
    for (const item of items.getChildren("item")) {
      const alert = item.getChildElements()[0];
      const fields = alert ? alertFields(alert) : undefined;
      const id = String(alert?.attrs.id ?? item.attrs.id ?? "");
      if (!fields || this.#seen.has(id)) continue;
      this.#remember(id);
      const body = phoneAlert(fields);
      for (const to of this.#people)
        send(xml("message", { to, type: "chat" }, xml("body", {}, body)));
    }
    return true;
  }

  #remember(id: string): void {
    this.#seen.add(id);
    if (this.#seen.size > REMEMBERED) {
      const oldest = this.#seen.values().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
  }

  async #roster(item: Stanza): Promise<void> {
    await this.#xmpp.iqCaller.request(
      xml("iq", { type: "set" }, xml("query", { xmlns: NS_ROSTER }, item)),
    );
  }
}
