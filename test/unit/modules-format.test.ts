import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  canaryBucket,
  checkUpgrade,
  generateSigningKey,
  importPublicKey,
  inCanary,
  loadSigningKey,
  type Manifest,
  ModuleError,
  ModuleRefused,
  moduleElement,
  parseManifest,
  sha256Hex,
  signManifest,
  targetMatches,
  verifyModule,
} from "../../src/modules/core.js";
import { globMatch } from "../../src/protocol/index.js";
import { type Element, ltx } from "../../src/xmpp/index.js";

const script = Buffer.from("#!/bin/sh\necho OK\n");
const baseManifest = (version = 1, extra: Partial<Manifest> = {}): Manifest =>
  parseManifest({
    name: "web-basics",
    version,
    target: { groups: ["web"] },
    checks: [{ type: "nagios", name: "hello", command: "plugins/hello" }],
    files: { "plugins/hello": { sha256: sha256Hex(script), mode: 0o755 } },
    ...extra,
  });

function signed(
  manifest: Manifest,
  key = generateSigningKey(),
  files = new Map([["plugins/hello", script]]),
) {
  const loaded = loadSigningKey(key.privateKeyPem);
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const element = moduleElement(
    {
      manifestBytes,
      files,
      canary: 100,
      signature: { key: loaded.publicKey, value: signManifest(manifestBytes, loaded) },
    },
    manifest,
  );
  // Through the wire format: serialised and parsed again.
  return { element: ltx.parse(element.toString()) as Element, key: key.publicKey };
}

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ModuleRefused) return err.reason;
    throw err;
  }
  return "accepted";
};

describe("module signatures", () => {
  it("imports a raw 32-byte public key as SPKI with the Ed25519 prefix", () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    const raw = publicKey.export({ type: "spki", format: "der" }).subarray(12);
    expect(importPublicKey(raw.toString("base64")).equals(publicKey)).toBe(true);
    expect(() => importPublicKey(Buffer.alloc(31).toString("base64"))).toThrow(ModuleError);
  });

  it("accepts a module signed by a trusted key with matching file hashes", () => {
    const { element, key } = signed(baseManifest());
    const module = verifyModule(element, [key], "0.1.0");
    expect(module.manifest.version).toBe(1);
    expect(module.files.get("plugins/hello")?.equals(script)).toBe(true);
  });

  it("refuses an unsigned module, an unknown key, a forged signature and a tampered file", () => {
    const { element, key } = signed(baseManifest());
    const unsigned = ltx.parse(element.toString()) as Element;
    unsigned.children = unsigned.children.filter((c) => (c as Element).name !== "signature");
    expect(refusal(() => verifyModule(unsigned, [key], "0.1.0"))).toBe("unsigned");
    expect(refusal(() => verifyModule(element, [generateSigningKey().publicKey], "0.1.0"))).toBe(
      "unknown-key",
    );

    const forged = ltx.parse(element.toString()) as Element;
    const manifestEl = forged.getChild("manifest") as Element;
    const changed = JSON.parse(Buffer.from(manifestEl.getText(), "base64").toString());
    changed.target = { hosts: ["*"] };
    manifestEl.children = [Buffer.from(JSON.stringify(changed)).toString("base64")];
    expect(refusal(() => verifyModule(forged, [key], "0.1.0"))).toBe("bad-signature");

    const tampered = ltx.parse(element.toString()) as Element;
    const file = tampered.getChild("file") as Element;
    file.children = [Buffer.from("#!/bin/sh\nrm -rf /\n").toString("base64")];
    expect(refusal(() => verifyModule(tampered, [key], "0.1.0"))).toBe("hash-mismatch");

    const extra = ltx.parse(element.toString()) as Element;
    extra.cnode(new ltx.Element("file", { path: "plugins/other" }).t(script.toString("base64")));
    expect(refusal(() => verifyModule(extra, [key], "0.1.0"))).toBe("hash-mismatch");
  });

  it("refuses a module for a newer agent", () => {
    const { element, key } = signed(baseManifest(1, { minAgentVersion: "0.2.0" }));
    expect(refusal(() => verifyModule(element, [key], "0.1.9"))).toBe("agent-too-old");
  });

  it("refuses a downgrade and a different manifest under a running version", () => {
    const key = generateSigningKey();
    const v2 = verifyModule(signed(baseManifest(2), key).element, [key.publicKey], "0.1.0");
    const v1 = verifyModule(signed(baseManifest(1), key).element, [key.publicKey], "0.1.0");
    const v2b = verifyModule(
      signed(baseManifest(2, { description: "other" }), key).element,
      [key.publicKey],
      "0.1.0",
    );
    const running = { version: 2, digest: v2.digest };
    expect(checkUpgrade(v2, running)).toBe("same");
    expect(refusal(() => checkUpgrade(v1, running))).toBe("downgrade");
    expect(refusal(() => checkUpgrade(v2b, running))).toBe("downgrade");
    expect(checkUpgrade(v2, { version: 1, digest: v1.digest })).toBe("install");
  });
});

describe("module manifests", () => {
  it("names the field at fault", () => {
    const bad = (value: Record<string, unknown>) => {
      try {
        parseManifest({ name: "m", version: 1, target: { groups: ["web"] }, checks: [], ...value });
      } catch (err) {
        return (err as ModuleError).field;
      }
      return "accepted";
    };
    expect(bad({})).toBe("accepted");
    expect(bad({ version: 0 })).toBe("version");
    expect(bad({ version: "7" })).toBe("version");
    expect(bad({ name: "Web Basics" })).toBe("name");
    expect(bad({ target: {} })).toBe("target");
    expect(bad({ target: { groups: ["a b"] } })).toBe("target.groups.0");
    expect(bad({ files: { "../etc/passwd": { sha256: "0".repeat(64) } } })).toBe(
      "files.../etc/passwd",
    );
    expect(bad({ files: { "a/b": { sha256: "xyz" } } })).toBe("files.a/b.sha256");
    expect(bad({ minAgentVersion: "1" })).toBe("minAgentVersion");
    expect(bad({ checks: [{ name: "a" }, { name: "a" }] })).toBe("checks.1.name");
    expect(bad({ colour: "red" })).toBe("colour");
  });
});

describe("targets and canaries", () => {
  it("matches groups, and host or JID globs", () => {
    const agent = { jid: "web01@example.com", host: "web01.eu-west.example.com", groups: ["web"] };
    expect(targetMatches({ groups: ["web"], hosts: [] }, agent)).toBe(true);
    expect(targetMatches({ groups: ["db"], hosts: [] }, agent)).toBe(false);
    expect(targetMatches({ groups: [], hosts: ["*.eu-west.*"] }, agent)).toBe(true);
    expect(targetMatches({ groups: [], hosts: ["web0?@example.com"] }, agent)).toBe(true);
    expect(targetMatches({ groups: [], hosts: ["db*"] }, agent)).toBe(false);
  });

  it("matches globs in linear time even against many stars", () => {
    const started = performance.now();
    expect(globMatch(`${"*a".repeat(30)}b`, "a".repeat(10_000))).toBe(false);
    // Not a speed target, a guard against exponential backtracking (seconds, not ms, if it were).
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("puts about the given share of JIDs in a canary, the same ones every time", () => {
    const jids = Array.from({ length: 10_000 }, (_, i) => `agent${i}@example.com`);
    const members = jids.filter((j) => inCanary(j, 10));
    expect(members.length).toBeGreaterThan(900);
    expect(members.length).toBeLessThan(1100);
    expect(jids.filter((j) => inCanary(j, 10))).toEqual(members);
    expect(jids.every((j) => inCanary(j, 100))).toBe(true);
    // Documented: first four bytes of sha256("agent0@example.com"), big-endian, mod 10,000.
    expect(canaryBucket("Agent0@Example.com")).toBe(canaryBucket("agent0@example.com"));
  });
});
