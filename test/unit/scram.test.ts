import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nativeHi } from "../../src/xmpp/index.js";

// The library's own Hi(), loaded before anything patches it.
const original = (
  createRequire(import.meta.url)("sasl-scram-sha-1/lib/bitops.js") as { Hi: typeof nativeHi }
).Hi;

describe("native SCRAM Hi()", () => {
  it("matches RFC 5802's test vector (password 'pencil')", async () => {
    const salt = Buffer.from("QSXCR+Q6sek8bf92", "base64");
    const salted = await nativeHi("pencil", salt, 4096);
    expect(Buffer.from(salted).toString("hex")).toBe("1d96ee3a529b5a5f9e47c01f229a2cb8a6e15f7d");
  });

  // The library cannot take an empty password (WebCrypto refuses a zero-length key); ours can.
  it("gives exactly what the library computes, for any non-empty password and salt", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1 }),
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.integer({ min: 1, max: 64 }),
        async (password, salt, n) => {
          expect(Buffer.from(await nativeHi(password, salt, n))).toEqual(
            Buffer.from(await original(password, salt, n)),
          );
        },
      ),
      { numRuns: 50 },
    );
  });
});
