/**
 * Chatting with a bot from a test client: send a message, wait for the bot's
 * next reply. A bounce (the bot has no session) fails at once, with whatever
 * the caller can say about the bot, instead of passing for an answer.
 */
import { type Client, xml } from "@xmpp/client";

type Stanza = ReturnType<typeof xml>;

export interface AskOptions {
  timeoutMs?: number;
  /** Appended to failure messages, e.g. the bot process's last output. */
  diagnostics?: () => string;
}

export async function askBot(
  client: Client,
  botJid: string,
  text: string,
  { timeoutMs = 10_000, diagnostics = () => "" }: AskOptions = {},
): Promise<string> {
  const reply = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no reply to "${text}"${diagnostics()}`)),
      timeoutMs,
    );
    const done = () => {
      clearTimeout(timer);
      client.removeListener("stanza", onStanza);
    };
    const onStanza = (stanza: Stanza) => {
      if (!stanza.is("message")) return;
      if (stanza.attrs.type === "error") {
        done();
        reject(new Error(`"${text}" bounced: ${stanza.toString()}${diagnostics()}`));
      } else if (stanza.attrs.from?.startsWith(botJid) && stanza.getChildText("body")) {
        done();
        resolve(stanza.getChildText("body") as string);
      }
    };
    client.on("stanza", onStanza);
  });
  await client.send(xml("message", { to: botJid, type: "chat" }, xml("body", {}, text)));
  return reply;
}
