import { describe, expect, it } from "vitest";
import { chooseMechanism, SaltedPasswordCache, ScramClient } from "../../src/xmpp/index.js";

describe("SCRAM, client side", () => {
  // RFC 5802 §5 (SCRAM-SHA-1) and RFC 7677 §3 (SCRAM-SHA-256) test vectors.
  const vectors = [
    {
      hash: "sha1" as const,
      clientNonce: "fyko+d2lbbFgONRv9qkxdawL",
      serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
      clientFinal:
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
      serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
    },
    {
      hash: "sha256" as const,
      clientNonce: "rOprNGfwEbeRWgbNEkqO",
      serverFirst:
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      clientFinal:
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    },
  ];

  for (const v of vectors) {
    it(`computes the RFC's proof and accepts its server signature (${v.hash})`, async () => {
      const scram = new ScramClient({
        hash: v.hash,
        username: "user",
        password: "pencil",
        clientNonce: v.clientNonce,
      });
      expect(scram.first()).toBe(`n,,n=user,r=${v.clientNonce}`);
      expect(await scram.final(v.serverFirst)).toBe(v.clientFinal);
      expect(() => scram.verify(v.serverFinal)).not.toThrow();
    });
  }

  it("reuses the salted password across exchanges with one cache, and only for the same salt and count", async () => {
    const salted = new SaltedPasswordCache();
    const salt = Buffer.from("QSXCR+Q6sek8bf92", "base64");
    const first = await salted.derive("pencil", salt, 4096, "sha1");
    expect(await salted.derive("pencil", salt, 4096, "sha1")).toBe(first);
    expect(await salted.derive("pencil", salt, 4097, "sha1")).not.toBe(first);
    expect(await salted.derive("pencil", Buffer.from("other"), 4096, "sha1")).not.toEqual(first);
    expect(await salted.derive("pencil2", salt, 4096, "sha1")).not.toEqual(first);
    // Two exchanges sharing the cache (a reconnect) both give the RFC's proof.
    const v = vectors[0] as (typeof vectors)[number];
    for (let i = 0; i < 2; i++) {
      const scram = new ScramClient({
        hash: v.hash,
        username: "user",
        password: "pencil",
        clientNonce: v.clientNonce,
        salted,
      });
      scram.first();
      expect(await scram.final(v.serverFirst)).toBe(v.clientFinal);
    }
  });

  it("refuses a server signature that is not the RFC's (a server that does not hold our keys)", async () => {
    const v = vectors[1] as (typeof vectors)[1];
    const scram = new ScramClient({
      hash: v.hash,
      username: "user",
      password: "pencil",
      clientNonce: v.clientNonce,
    });
    scram.first();
    await scram.final(v.serverFirst);
    expect(() => scram.verify("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")).toThrow(
      /server's SCRAM signature is wrong/,
    );
    expect(() => scram.verify("")).toThrow(/signature is wrong/);
  });

  it("refuses a server nonce that does not extend the client's", async () => {
    const scram = new ScramClient({
      hash: "sha256",
      username: "u",
      password: "p",
      clientNonce: "abc",
    });
    scram.first();
    await expect(scram.final("r=xyz123,s=QSXCR+Q6sek8bf92,i=4096")).rejects.toThrow(/nonce/);
  });

  it("binds the channel: p=<type> in the GS2 header and the binding data in c=", async () => {
    const data = Buffer.from("finished-message");
    const scram = new ScramClient({
      hash: "sha256",
      username: "u",
      password: "p",
      clientNonce: "abc",
      binding: { type: "tls-unique", data },
    });
    expect(scram.first()).toBe("p=tls-unique,,n=u,r=abc");
    const final = await scram.final("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096");
    const c = /^c=([^,]+),/.exec(final)?.[1] as string;
    expect(Buffer.from(c, "base64")).toEqual(Buffer.concat([Buffer.from("p=tls-unique,,"), data]));
  });
});

describe("choosing a SASL mechanism", () => {
  const ejabberd = ["PLAIN", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "X-OAUTH2"];
  const binding = { type: "tls-unique" as const, data: Buffer.alloc(12) };

  it("prefers -PLUS when the connection has a channel binding, then SCRAM-SHA-256", () => {
    expect(chooseMechanism(ejabberd, true, binding)?.mechanism).toBe("SCRAM-SHA-256-PLUS");
    expect(chooseMechanism(ejabberd, true, undefined)?.mechanism).toBe("SCRAM-SHA-256");
    expect(chooseMechanism(["SCRAM-SHA-1", "SCRAM-SHA-256"], true, undefined)?.mechanism).toBe(
      "SCRAM-SHA-256",
    );
  });

  it("uses PLAIN only over TLS, never over plain TCP", () => {
    expect(chooseMechanism(["PLAIN"], true, undefined)?.mechanism).toBe("PLAIN");
    expect(chooseMechanism(["PLAIN"], false, undefined)).toBeUndefined();
    expect(chooseMechanism(["PLAIN", "SCRAM-SHA-1"], false, undefined)?.mechanism).toBe(
      "SCRAM-SHA-1",
    );
  });
});
