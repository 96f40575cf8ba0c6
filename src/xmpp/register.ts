/**
 * XEP-0077 in-band registration: create an account over an ordinary c2s
 * connection, as `jabmon account add` does. Needs a server that allows it
 * (the local stack allows it from loopback). The password goes out only after
 * STARTTLS, with the server's certificate verified as for the client
 * (src/xmpp/client.ts); a server without STARTTLS is refused unless the
 * caller set `insecure` (loopback tests and benchmarks).
 *
 * https://xmpp.org/extensions/xep-0077.html
 */
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { type TlsClientOptions, tlsConnectOptions } from "./client.js";
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

export interface RegisterOptions extends TlsClientOptions {
  timeoutMs?: number;
}

const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";

export async function registerAccount(
  service: string,
  domain: string,
  username: string,
  password: string,
  options: RegisterOptions = {},
): Promise<void> {
  const { host, port } = parseService(service);
  const timeoutMs = options.timeoutMs ?? 10_000;
  // Before connecting: an unreadable CA file is a configuration error, not a network one.
  const tlsOptions = tlsConnectOptions(domain, options);
  let socket: Socket = connect({ host, port });
  let secure = false;
  const esc = ltx.escapeXML;
  return new Promise<void>((resolve, reject) => {
    let finished = false;
    const done = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.end("</stream:stream>");
      socket.destroy();
      err ? reject(err) : resolve();
    };
    const timer = setTimeout(
      () => done(new RegistrationError(`no answer from ${service} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const openStream = () => {
      socket.write(
        `<?xml version='1.0'?><stream:stream to='${esc(domain)}' xmlns='jabber:client' ` +
          `xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`,
      );
    };
    const onError = (err: Error) =>
      done(new RegistrationError(`cannot reach ${service}: ${err.message}`));
    const onData = (chunk: Buffer) => parser.write(chunk.toString("utf8"));
    let parser = newStreamParser(
      (element) => onElement(element),
      () => done(new RegistrationError(`${service} closed the stream`)),
    );
    socket.on("error", onError);
    socket.on("connect", openStream);
    socket.on("data", onData);

    const upgrade = () => {
      // The TLS socket reads the TCP socket from here on; a new stream starts over it.
      socket.removeListener("data", onData);
      socket.removeListener("error", onError);
      const raw = socket;
      socket = tlsConnect({ socket: raw, ...tlsOptions });
      socket.on("error", (err) =>
        done(
          new RegistrationError(
            `TLS with ${domain} failed: ${err.message} (is the CA file set to the server's CA?)`,
          ),
        ),
      );
      socket.on("secureConnect", () => {
        secure = true;
        parser = newStreamParser(
          (element) => onElement(element),
          () => done(new RegistrationError(`${service} closed the stream`)),
        );
        socket.on("data", onData);
        openStream();
      });
    };

    const onElement = (element: Element) => {
      if (element.name === "stream:features") {
        if (!secure && element.getChild("starttls", NS_TLS)) {
          socket.write(`<starttls xmlns='${NS_TLS}'/>`);
          return;
        }
        if (!secure && !options.insecure)
          return done(
            new RegistrationError(
              `${service} offered no STARTTLS: refusing to send a password over plain TCP ` +
                "(insecure is for loopback test servers only)",
            ),
          );
        socket.write(
          `<iq type='set' id='reg1'><query xmlns='jabber:iq:register'>` +
            `<username>${esc(username)}</username><password>${esc(password)}</password></query></iq>`,
        );
      } else if (element.is("proceed", NS_TLS)) {
        upgrade();
      } else if (element.is("failure", NS_TLS)) {
        done(new RegistrationError(`${service} refused STARTTLS`));
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

/**
 * ltx's Parser emits "element" only when the root closes; a stream's root
 * stays open, so build each top-level child from the low-level SAX events.
 */
function newStreamParser(
  onElement: (element: Element) => void,
  onStreamEnd: () => void,
): { write(s: string): void } {
  const parser = (
    new ltx.Parser() as unknown as { parser: NodeJS.EventEmitter & { write(s: string): void } }
  ).parser;
  let current: Element | null = null;
  parser.on("startElement", (name: string, attrs: Record<string, string>) => {
    if (name === "stream:stream") return;
    const child = new ltx.Element(name, attrs);
    current = current ? current.cnode(child) : child;
  });
  parser.on("text", (text: string) => current?.t(text));
  parser.on("endElement", (name: string) => {
    if (name === "stream:stream") return onStreamEnd();
    if (!current) return;
    if (current.parent) {
      current = current.parent as Element;
      return;
    }
    const element = current;
    current = null;
    onElement(element);
  });
  return parser;
}
