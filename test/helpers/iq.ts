/**
 * One IQ round trip from a plain xmpp.js client (RFC 6120 §8.2.3): send a get
 * or set and resolve with the reply stanza, result or error, so that a test
 * can assert on either. xmpp.js's own iqCaller rejects on an error reply and
 * drops the stanza; tests of refusals need it.
 */
import { type Client, xml } from "@xmpp/client";

export type Xml = ReturnType<typeof xml>;

export interface IqOptions {
  /** The IQ's id (a reply echoes it, so a long one counts against reply limits). Default: a fresh one. */
  id?: string;
  /** A `from` to put on the stanza (ejabberd replaces or refuses a forged one). */
  from?: string;
  /** How long to wait for the reply. Default 10 s. */
  timeoutMs?: number;
  /** Reject as soon as the client's connection closes instead of waiting out the timeout. */
  rejectOnDisconnect?: boolean;
}

let counter = 0;

/** A fresh IQ id: unique within the run, random across runs. */
export const iqId = () => `iq-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * The IQ reply with `id` arriving at `client`, result or error; rejects after
 * `timeoutMs`. Listen before sending: the reply can come back fast.
 */
export function replyTo(
  client: Client,
  id: string,
  { timeoutMs = 10_000, rejectOnDisconnect = false }: IqOptions = {},
): Promise<Xml> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      client.removeListener("stanza", onStanza);
      client.removeListener("disconnect", onDisconnect);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no reply to IQ ${id} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onStanza = (stanza: Xml) => {
      if (!stanza.is("iq") || stanza.attrs.id !== id) return;
      if (stanza.attrs.type !== "result" && stanza.attrs.type !== "error") return;
      done();
      resolve(stanza);
    };
    const onDisconnect = () => {
      done();
      reject(new Error(`the connection closed before the reply to IQ ${id}`));
    };
    client.on("stanza", onStanza);
    if (rejectOnDisconnect) client.on("disconnect", onDisconnect);
  });
}

/** Send an IQ get or set to `to` and resolve with its reply stanza, result or error. */
export async function iq(
  client: Client,
  to: string,
  type: "get" | "set",
  payload: Xml | Xml[],
  options: IqOptions = {},
): Promise<Xml> {
  const id = options.id ?? iqId();
  const reply = replyTo(client, id, options);
  const children = Array.isArray(payload) ? payload : [payload];
  try {
    const from = options.from ? { from: options.from } : {};
    await client.send(xml("iq", { type, to, id, ...from }, ...children));
  } catch (err) {
    reply.catch(() => {});
    throw err;
  }
  return reply;
}
