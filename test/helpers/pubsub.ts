/** Helpers for talking XEP-0060 to the component from a plain xmpp.js client. */
import { type Client, xml } from "@xmpp/client";
import { iq, type Xml } from "./iq.js";

// The IQ round trip (./iq.ts), re-exported: most files use it with the builders below.
export { iq, type Xml } from "./iq.js";

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const NS_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
export const NS_ERRORS = "http://jabber.org/protocol/pubsub#errors";
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
export const NS_RSM = "http://jabber.org/protocol/rsm";
export const NS_JABMON = "urn:jabmon:0";
export const NS_DATA = "jabber:x:data";
export const NS_DELAY = "urn:xmpp:delay";

export const pubsub = (...children: Xml[]) => xml("pubsub", { xmlns: NS_PUBSUB }, ...children);
export const owner = (...children: Xml[]) => xml("pubsub", { xmlns: NS_OWNER }, ...children);

export function form(type: string, fields: Record<string, string>): Xml {
  return xml(
    "x",
    { xmlns: NS_DATA, type: "submit" },
    xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, type)),
    ...Object.entries(fields).map(([k, v]) => xml("field", { var: k }, xml("value", {}, v))),
  );
}

export const check = (seq: number, extra: Record<string, string> = {}) =>
  xml("check", {
    xmlns: NS_JABMON,
    seq: String(seq),
    time: new Date().toISOString(),
    name: "load",
    state: "ok",
    ...extra,
  });

export const publishIq = (node: string, payload: Xml, id?: string, ...extra: Xml[]) =>
  pubsub(xml("publish", { node }, xml("item", { id }, payload)), ...extra);

/** [condition, application condition] of an error reply; undefined for a result. */
export function errorOf(reply: Xml): [string | undefined, string | undefined] | undefined {
  if (reply.attrs.type !== "error") return undefined;
  const error = reply.getChild("error");
  const children = error?.getChildElements() ?? [];
  return [
    children.find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== "text")?.name,
    children.find((c) => c.attrs.xmlns === NS_ERRORS)?.name,
  ];
}

/** Collects pubsub event messages arriving at a client. */
export function collectEvents(client: Client): Xml[] {
  const events: Xml[] = [];
  client.on("stanza", (stanza: Xml) => {
    if (stanza.is("message") && stanza.getChild("event", NS_EVENT)) events.push(stanza);
  });
  return events;
}

/**
 * The published items (with jabmon:seq) of a list of event messages. `delayed`:
 * the message has a XEP-0203 <delay/> (a last published item sent on subscribe).
 */
export function eventItems(events: Xml[], node?: string) {
  const out: Array<{ id: string; seq: number; payload: Xml | undefined; delayed: boolean }> = [];
  for (const message of events) {
    const items = message.getChild("event", NS_EVENT)?.getChild("items");
    if (!items || (node && items.attrs.node !== node)) continue;
    const delayed = message.getChild("delay", NS_DELAY) !== undefined;
    for (const item of items.getChildren("item"))
      out.push({
        id: item.attrs.id,
        seq: Number(item.attrs["jabmon:seq"]),
        payload: item.getChildElements()[0],
        delayed,
      });
  }
  return out;
}

/** Make a client available (messages to its bare JID reach it) and wait until ejabberd has it. */
export async function available(client: Client): Promise<void> {
  await client.send(xml("presence"));
  await new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * Publish one result to `account`'s node with a seq far above any the agent
 * numbers from the clock (a clock once wildly ahead): the agent's later seqs
 * are then refused as regressed, and it must re-seed. Returns that seq.
 */
export async function publishStraySeq(
  stack: { client(a: { jid: string; password: string }): Promise<Client>; componentJid: string },
  account: { jid: string; password: string },
): Promise<number> {
  const stray = Date.now() + 10_000_000_000;
  const client = await stack.client(account);
  try {
    const reply = await iq(
      client,
      stack.componentJid,
      "set",
      publishIq(`agents/${account.jid}`, check(stray)),
    );
    if (errorOf(reply)) throw new Error(`the stray publish was refused: ${reply.toString()}`);
  } finally {
    await client.stop();
  }
  return stray;
}
