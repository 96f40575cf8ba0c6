/**
 * The client's stream parser: @xmpp/xml's Parser, hardened against a stream
 * error that arrives where a stream header is expected.
 *
 * After STARTTLS and after SASL success the client restarts the stream: it
 * sends a new header and parses the answer with a fresh parser. A server
 * shutting down at that moment (an ejabberd restart under a 10,000-session
 * reconnect herd does it hundreds of times) answers with
 * `<stream:error><system-shutdown/></stream:error></stream:stream>` and no new
 * header. @xmpp/xml then takes `<stream:error>` for the stream's root: it
 * reports the stream as opened, its closing tag as the stream's end, and the
 * `</stream:stream>` after it as a parse error, emitted after the connection
 * had already detached its listeners, so EventEmitter threw it from the
 * socket's data handler ("XMLError: stream:error must be closed") and the
 * process died.
 *
 * Here a top-level stream error opens an implicit stream, so it is delivered
 * as what it is (a StreamError, and the attempt fails and is retried), and
 * nothing the parser sees after the stream's end, or emits with no listener
 * left, can throw.
 */
import xmlTyped from "@xmpp/xml";

// The published @types describe @xmpp/xml 0.13 without the Parser's hooks.
// biome-ignore lint/suspicious/noExplicitAny: untyped base class
const { Parser, Element } = xmlTyped as any;

const NS_STREAM = "http://etherx.jabber.org/streams";

export class StreamParser extends Parser {
  #ended = false;

  onStartElement(name: string, attrs: Record<string, string>): void {
    if (this.#ended) return;
    if (!this.root && name === "stream:error") this.openImplicitStream();
    super.onStartElement(name, attrs);
  }

  onEndElement(name: string): void {
    if (this.#ended) return;
    super.onEndElement(name);
  }

  onText(text: string): void {
    if (this.#ended) return;
    super.onText(text);
  }

  emit(event: string, ...args: unknown[]): boolean {
    if (event === "end") this.#ended = true;
    // Detached (the stream is over): an error now concerns nobody.
    if (event === "error" && this.listenerCount("error") === 0) return false;
    return super.emit(event, ...args);
  }

  /** A root standing for the header the server did not send; not reported as "start". */
  private openImplicitStream(): void {
    this.root = new Element("stream:stream", { "xmlns:stream": NS_STREAM, xmlns: "jabber:client" });
    this.cursor = this.root;
  }
}
