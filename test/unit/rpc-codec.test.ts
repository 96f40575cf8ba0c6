import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeMethodCall,
  decodeMethodResponse,
  decodeValue,
  encodeValue,
  faultQuery,
  methodCallQuery,
  RpcFault,
  type RpcValue,
  responseQuery,
  xmlSafe,
} from "../../src/rpc/index.js";
import { ltx } from "../../src/xmpp/index.js";

/** Through the wire: serialise, parse again (as the receiving side would), decode. */
const viaWire = (value: RpcValue) => decodeValue(ltx.parse(encodeValue(value).toString()));
const parse = (xml: string) => ltx.parse(xml);

// Strings XML 1.0 can carry (others are replaced with U+FFFD, tested separately).
const xmlString = fc.string({ unit: "binary", maxLength: 40 }).map(xmlSafe);
const rpcValue = fc.letrec<{ value: RpcValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    xmlString,
    // dateTime.iso8601 has whole seconds only.
    fc
      .date({
        min: new Date("0001-01-01T00:00:00Z"),
        max: new Date("9999-12-31T23:59:59Z"),
        noInvalidDate: true,
      })
      .map((d) => new Date(Math.floor(d.getTime() / 1000) * 1000)),
    fc.uint8Array({ maxLength: 64 }),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(xmlString, tie("value"), { maxKeys: 5 }),
  ),
})).value;

describe("the XML-RPC codec", () => {
  it("round-trips every representable value through serialised XML", () => {
    fc.assert(
      fc.property(rpcValue, (value) => {
        expect(viaWire(value)).toEqual(value);
      }),
      { numRuns: 500 },
    );
  });

  it("round-trips a method call and a response through the query element", () => {
    fc.assert(
      fc.property(fc.array(rpcValue, { maxLength: 4 }), rpcValue, (params, result) => {
        const call = decodeMethodCall(parse(methodCallQuery("hosts.list", params).toString()));
        expect(call).toEqual({ methodName: "hosts.list", params });
        const response = decodeMethodResponse(parse(responseQuery(result).toString()));
        expect(response).toEqual({ ok: true, value: result });
      }),
      { numRuns: 200 },
    );
  });

  it("round-trips a fault", () => {
    const response = decodeMethodResponse(parse(faultQuery(-32601, "no method x").toString()));
    expect(response).toEqual({ ok: false, code: -32601, message: "no method x" });
  });

  it("sends integers in the 32-bit range as <int> and other numbers as <double>", () => {
    expect(encodeValue(7).toString()).toBe("<value><int>7</int></value>");
    expect(encodeValue(2 ** 31).toString()).toBe("<value><double>2147483648</double></value>");
    expect(encodeValue(1.5).toString()).toBe("<value><double>1.5</double></value>");
    expect(encodeValue(true).toString()).toBe("<value><boolean>1</boolean></value>");
    expect(encodeValue(null).toString()).toBe("<value><nil/></value>");
  });

  it("sends dates in XML-RPC's basic form, UTC, without milliseconds", () => {
    expect(encodeValue(new Date("2026-11-25T23:50:00.789Z")).toString()).toBe(
      "<value><dateTime.iso8601>20261125T23:50:00</dateTime.iso8601></value>",
    );
  });

  it("refuses to encode values XML-RPC cannot represent", () => {
    expect(() => encodeValue(Number.NaN)).toThrow(/no representation/);
    expect(() => encodeValue(Number.POSITIVE_INFINITY)).toThrow(/no representation/);
    const loop: RpcValue[] = [];
    loop.push(loop);
    expect(() => encodeValue(loop)).toThrow(/circular/);
  });

  it("replaces characters XML cannot carry with U+FFFD", () => {
    expect(viaWire("a\u0000b\ud800c")).toBe("a\ufffdb\ufffdc");
  });

  it("reads an untyped <value> as a string, whitespace included", () => {
    expect(decodeValue(parse("<value>  hi there </value>"))).toBe("  hi there ");
    expect(decodeValue(parse("<value/>"))).toBe("");
    expect(decodeValue(parse("<value><string/></value>"))).toBe("");
  });

  it("reads the types other implementations send: i4, i8, Base64, extended dates, whitespace", () => {
    expect(decodeValue(parse("<value>\n  <i4> -12 </i4>\n</value>"))).toBe(-12);
    expect(decodeValue(parse("<value><i8>9007199254740991</i8></value>"))).toBe(2 ** 53 - 1);
    expect(decodeValue(parse("<value><Base64>aGk=\n</Base64></value>"))).toEqual(
      new Uint8Array([104, 105]),
    );
    expect(
      decodeValue(
        parse("<value><dateTime.iso8601>1998-07-17T16:08:55+02:00</dateTime.iso8601></value>"),
      ),
    ).toEqual(new Date("1998-07-17T14:08:55Z"));
    expect(decodeValue(parse("<value><double>-1.5e3</double></value>"))).toBe(-1500);
  });

  it("keeps a struct member called __proto__ as data", () => {
    const value = decodeValue(
      parse(
        "<value><struct><member><name>__proto__</name><value><int>1</int></value></member></struct></value>",
      ),
    ) as Record<string, RpcValue>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value, "__proto__")).toBe(true);
  });

  it.each([
    ["<value><int>12a</int></value>", /<int> is not an integer/],
    ["<value><int>2147483648</int></value>", /32-bit range/],
    ["<value><boolean>true</boolean></value>", /must be 0 or 1/],
    ["<value><double>NaN</double></value>", /finite decimal/],
    ["<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>", /ISO 8601/],
    ["<value><dateTime.iso8601>20260231T00:00:00</dateTime.iso8601></value>", /not a valid date/],
    ["<value><base64>***</base64></value>", /not base64/],
    ["<value><float>1</float></value>", /unknown XML-RPC type <float>/],
    ["<value><int>1</int><int>2</int></value>", /one typed element/],
    ["<value><array><value/></array></value>", /exactly one <data>/],
    [
      "<value><struct><member><name>a</name><value/></member><member><name>a</name><value/></member></struct></value>",
      /duplicate member "a"/,
    ],
    ["<value><struct><member><value/></member></struct></value>", /one <name> and one <value>/],
  ])("faults on malformed input %s", (xml, message) => {
    let fault: unknown;
    try {
      decodeValue(parse(xml));
    } catch (err) {
      fault = err;
    }
    expect(fault).toBeInstanceOf(RpcFault);
    expect((fault as RpcFault).code).toBe(-32700);
    expect((fault as RpcFault).message).toMatch(message);
  });

  it("faults on a method call without a methodName or with a bad one", () => {
    expect(() =>
      decodeMethodCall(parse("<query><methodCall><params/></methodCall></query>")),
    ).toThrow(/one <methodName>/);
    expect(() =>
      decodeMethodCall(
        parse("<query><methodCall><methodName>a b</methodName></methodCall></query>"),
      ),
    ).toThrow(/<methodName> must be/);
    expect(() => decodeMethodCall(parse("<query><methodResponse/></query>"))).toThrow(
      /exactly one <methodCall>/,
    );
  });

  it("refuses nesting deeper than the limit without overflowing the stack", () => {
    const depth = 20_000;
    const xml = `${"<value><array><data>".repeat(depth)}<value/>${"</data></array></value>".repeat(depth)}`;
    let tree: ReturnType<typeof parse>;
    try {
      tree = parse(xml);
    } catch {
      // ltx itself may not build such a tree; build it by hand then.
      tree = ltx.parse("<value/>");
      let inner = tree;
      for (let i = 0; i < depth; i++) inner = inner.c("array").c("data").c("value");
    }
    expect(() => decodeValue(tree)).toThrow(/nested deeper than 32/);
  });
});

// Element trees built from XML-RPC's own vocabulary plus noise: the decoder must
// either decode them or throw an RpcFault, never anything else.
const names = fc.constantFrom(
  "value",
  "int",
  "i4",
  "i8",
  "boolean",
  "string",
  "double",
  "dateTime.iso8601",
  "base64",
  "struct",
  "member",
  "name",
  "array",
  "data",
  "nil",
  "params",
  "param",
  "methodCall",
  "methodName",
  "methodResponse",
  "fault",
  "query",
  "x",
  "constructor",
  "__proto__",
);
const texts = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "0",
    "1",
    "-1",
    "2147483648",
    "1.5",
    "1e400",
    "aGk=",
    "20260101T00:00:00",
    "__proto__",
    "hosts.list",
  ),
  fc.string({ maxLength: 12 }),
);
type Tree = { name: string; children: Array<Tree | string> };
const tree = fc.letrec<{ node: Tree }>((tie) => ({
  node: fc.record({
    name: names,
    children: fc.array(fc.oneof({ depthSize: "small" }, texts, tie("node")), { maxLength: 4 }),
  }),
})).node;
function build(node: Tree): ReturnType<typeof parse> {
  const element = new ltx.Element(node.name);
  for (const child of node.children) {
    if (typeof child === "string") element.t(child);
    else element.cnode(build(child));
  }
  return element;
}
function onlyFaults(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof RpcFault)) throw err;
  }
}

describe("the XML-RPC decoder on hostile input", () => {
  it("never throws anything but an RpcFault for any element tree", () => {
    fc.assert(
      fc.property(tree, (node) => {
        const element = build(node);
        onlyFaults(() => decodeValue(element));
        onlyFaults(() => decodeMethodCall(element));
        onlyFaults(() => decodeMethodResponse(element));
        const query = new ltx.Element("query").cnode(element).root();
        onlyFaults(() => decodeMethodCall(query));
        onlyFaults(() => decodeMethodResponse(query));
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws anything but an RpcFault for any parseable text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        let element: ReturnType<typeof parse>;
        try {
          element = parse(`<query>${text}</query>`);
        } catch {
          return; // not XML: ejabberd would never deliver it
        }
        onlyFaults(() => decodeMethodCall(element));
        onlyFaults(() => decodeMethodResponse(element));
      }),
      { numRuns: 1000 },
    );
  });
});
