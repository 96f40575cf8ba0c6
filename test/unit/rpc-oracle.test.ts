// The `xmlrpc` npm package (a devDependency only) as an independent oracle:
// what we encode it decodes to the same value, and what it encodes we decode.
// Its dates are local time without a zone; run both sides in UTC.
process.env.TZ = "UTC";

import { createRequire } from "node:module";
import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeMethodResponse,
  type RpcValue,
  responseQuery,
  xmlSafe,
} from "../../src/rpc/index.js";
import { ltx } from "../../src/xmpp/index.js";

const require = createRequire(import.meta.url);
const serializer = require("xmlrpc/lib/serializer.js") as {
  serializeMethodResponse(value: unknown): string;
};
const Deserializer = require("xmlrpc/lib/deserializer.js") as new () => {
  deserializeMethodResponse(
    stream: Readable,
    cb: (err: Error | null, value: unknown) => void,
  ): void;
};

function theirDecode(xml: string): Promise<unknown> {
  return new Promise((resolve, reject) =>
    new Deserializer().deserializeMethodResponse(Readable.from([xml]), (err, value) =>
      err ? reject(err) : resolve(value),
    ),
  );
}

/** Buffers (theirs) as plain Uint8Arrays (ours), for comparison. */
function normalise(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(normalise);
  if (value instanceof Date || value instanceof Uint8Array || value === null) return value;
  if (typeof value === "object")
    return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, normalise(v)]));
  return value;
}

/** Our Uint8Arrays as Buffers: xmlrpc sends only Buffers as base64. */
function toTheirs(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(toTheirs);
  if (value instanceof Date || value === null) return value;
  if (typeof value === "object")
    return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, toTheirs(v)]));
  return value;
}

// Text both XML stacks carry unchanged (sax normalises CR; ltx does not).
const text = fc.string({ unit: "binary", maxLength: 30 }).map((s) => xmlSafe(s).replace(/\r/g, ""));
// xmlrpc builds structs with `obj[key] = value`, so "__proto__" is not a fair key for it.
const key = text.filter((k) => k !== "__proto__");
const value = fc.letrec<{ v: RpcValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    fc.boolean(),
    text,
    fc
      .date({
        min: new Date("1000-01-01T00:00:00Z"),
        max: new Date("9999-12-31T23:59:59Z"),
        noInvalidDate: true,
      })
      .map((d) => new Date(Math.floor(d.getTime() / 1000) * 1000)),
    fc.uint8Array({ maxLength: 32 }),
    fc.constant(null),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.dictionary(key, tie("v"), { maxKeys: 4 }),
  ),
})).v;

describe("the codec against the xmlrpc package", () => {
  it("encodes what xmlrpc decodes to the same value", async () => {
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const ours = (
          responseQuery(v).getChild("methodResponse") as ReturnType<typeof ltx.parse>
        ).toString();
        expect(normalise(await theirDecode(ours))).toEqual(v);
      }),
      { numRuns: 300 },
    );
  });

  it("decodes what xmlrpc encodes to the same value", () => {
    fc.assert(
      fc.property(value, (v) => {
        const theirs = serializer
          .serializeMethodResponse(toTheirs(v))
          .replace(/^<\?xml[^>]*\?>/, "");
        const query = new ltx.Element("query").cnode(ltx.parse(theirs)).root();
        expect(decodeMethodResponse(query)).toEqual({ ok: true, value: v });
      }),
      { numRuns: 300 },
    );
  });
});
