/**
 * XEP-0077 in-band registration: create an account over an ordinary c2s
 * connection, as `jabmon account add` does. Needs a server that allows it
 * (the local stack allows it from loopback); over TLS-less loopback only.
 *
 * https://xmpp.org/extensions/xep-0077.html
 */
import { connect } from "node:net";
import ltx, { type Element } from "./ltx.js";

export class RegistrationError extends Error {
  override name = "RegistrationError";
  constructor(
    message: string,
    readonly condition?: string,
  ) {
    super(message);
  }
}

function parseService(service: string): { host: string; port: number } {
  const match = /^xmpps?:\/\/([^:/]+):(\d+)$/.exec(service);
  if (!match)
    throw new RegistrationError(`service must look like xmpp://HOST:PORT, got ${service}`);
  return { host: match[1] as string, port: Number(match[2]) };
}

export async function registerAccount(
  service: string,
  domain: string,
  username: string,
  password: string,
  timeoutMs = 10_000,
): Promise<void> {
  const { host, port } = parseService(service);
  const socket = connect({ host, port });
  // The low-level SAX-like parser under ltx.Parser; see the note at "startElement".
  const parser = (
    new ltx.Parser() as unknown as { parser: NodeJS.EventEmitter & { write(s: string): void } }
  ).parser;
  const esc = ltx.escapeXML;
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.end("</stream:stream>");
      socket.destroy();
      err ? reject(err) : resolve();
    };
    const timer = setTimeout(
      () => done(new RegistrationError(`no answer from ${service} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("error", (err) =>
      done(new RegistrationError(`cannot reach ${service}: ${err.message}`)),
    );
    socket.on("connect", () => {
      socket.write(
        `<?xml version='1.0'?><stream:stream to='${esc(domain)}' xmlns='jabber:client' ` +
          `xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`,
      );
    });
    socket.on("data", (chunk) => parser.write(chunk.toString("utf8")));
    // ltx's Parser emits "element" only when the root closes; a stream's root
    // stays open, so build each top-level child from the low-level events.
    let current: Element | null = null;
    parser.on("startElement", (name: string, attrs: Record<string, string>) => {
      if (name === "stream:stream") return;
      const child = new ltx.Element(name, attrs);
      current = current ? current.cnode(child) : child;
    });
    parser.on("text", (text: string) => current?.t(text));
    parser.on("endElement", (name: string) => {
      if (name === "stream:stream")
        return done(new RegistrationError(`${service} closed the stream`));
      if (!current) return;
      if (current.parent) {
        current = current.parent as Element;
        return;
      }
      const element = current;
      current = null;
      onElement(element);
    });
    const onElement = (element: Element) => {
      if (element.name === "stream:features") {
        socket.write(
          `<iq type='set' id='reg1'><query xmlns='jabber:iq:register'>` +
            `<username>${esc(username)}</username><password>${esc(password)}</password></query></iq>`,
        );
      } else if (element.is("iq") && element.attrs.id === "reg1") {
        if (element.attrs.type === "result") return done();
        const condition = element.getChild("error")?.getChildElements()[0]?.name;
        const text = element.getChild("error")?.getChildText("text");
        done(
          new RegistrationError(
            `registration of ${username}@${domain} refused: ${condition ?? "unknown"}${text ? ` (${text})` : ""}`,
            condition,
          ),
        );
      } else if (element.name === "stream:error") {
        done(
          new RegistrationError(
            `stream error from ${service}: ${element.getChildElements()[0]?.name ?? "unknown"}`,
          ),
        );
      }
    };
  });
}
