/**
 * The client's stream parser (src/xmpp/parser.ts) on what a server sends when
 * it shuts down right after a stream restart: a stream error and the stream's
 * end, with no new stream header.
 */
import xmlTyped from "@xmpp/xml";
import { describe, expect, it } from "vitest";
import { type Element, StreamParser } from "../../src/xmpp/index.js";

const NS_STREAM = "http://etherx.jabber.org/streams";
const SHUTDOWN =
  "<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";

interface ParserLike {
  on(event: string, listener: (...args: never[]) => void): void;
  removeAllListeners(event?: string): void;
  write(data: string): void;
}

/** Listens as @xmpp/connection does, and detaches at the stream's end as it does. */
function attach(parser: ParserLike) {
  const seen = { start: 0, end: 0, elements: [] as Element[], errors: [] as Error[] };
  parser.on("start", () => {
    seen.start += 1;
  });
  parser.on("element", (e: Element) => seen.elements.push(e));
  parser.on("error", (e: Error) => seen.errors.push(e));
  parser.on("end", () => {
    seen.end += 1;
    for (const event of ["start", "element", "error", "end"]) parser.removeAllListeners(event);
  });
  return seen;
}

describe("the client's stream parser", () => {
  it("delivers a stream error sent in place of the stream header as a stream error, then the end", () => {
    const parser = new StreamParser() as unknown as ParserLike;
    const seen = attach(parser);
    expect(() => parser.write(SHUTDOWN)).not.toThrow();
    expect(seen.start).toBe(0);
    expect(seen.elements).toHaveLength(1);
    const error = seen.elements[0] as Element;
    expect(error.is("error", NS_STREAM)).toBe(true);
    expect(error.getChild("system-shutdown")).toBeDefined();
    expect(seen.end).toBe(1);
    expect(seen.errors).toEqual([]);
  });

  it("is what @xmpp/xml's own parser threw from the socket's data handler", () => {
    // The check is not vacuous: the stock parser reports the error element as
    // the stream's start and throws on the </stream:stream> after it.
    const parser = new (xmlTyped as unknown as { Parser: new () => ParserLike }).Parser();
    const seen = attach(parser);
    expect(() => parser.write(SHUTDOWN)).toThrow(/stream:error must be closed/);
    expect(seen.start).toBe(1);
  });

  it("parses a normal stream as before and ignores what follows its end", () => {
    const parser = new StreamParser() as unknown as ParserLike;
    const seen = attach(parser);
    parser.write(
      "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='1' version='1.0'>",
    );
    parser.write("<message to='a@b'><body>hi</body></message>");
    parser.write("</stream:stream></stream:stream><late/>");
    expect(seen.start).toBe(1);
    expect(seen.elements.map((e) => e.name)).toEqual(["message"]);
    expect(seen.elements[0]?.getChildText("body")).toBe("hi");
    expect(seen.end).toBe(1);
  });
});
