/**
 * The agent's module cache at start (no server): what a crash mid-write
 * leaves behind is ignored, and what the disk holds is verified again.
 * The XMPP client is a stand-in: nothing here talks to a server.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAgentConfig, ModuleRunner } from "../../src/agent/index.js";
import { silentLogger } from "../../src/log/index.js";
import {
  generateSigningKey,
  loadSigningKey,
  moduleElement,
  parseManifest,
  signManifest,
} from "../../src/modules/index.js";
import type { XmppClient } from "../../src/xmpp/index.js";

const key = generateSigningKey();
const offlineClient = { iqCallee: { get() {}, set() {} }, on() {} } as unknown as XmppClient;

function item(version: number) {
  const manifest = parseManifest({
    name: "web-basics",
    version,
    target: { groups: ["web"] },
    checks: [{ type: "uptime", name: `up${version}`, interval: 3600 }],
  });
  const bytes = Buffer.from(JSON.stringify(manifest));
  const signing = loadSigningKey(key.privateKeyPem);
  return moduleElement(
    {
      manifestBytes: bytes,
      files: new Map(),
      canary: 100,
      signature: { key: signing.publicKey, value: signManifest(bytes, signing) },
    },
    manifest,
  ).toString();
}

function runnerOn(cacheDir: string, trustedKeys = [key.publicKey]) {
  const results: string[] = [];
  const runner = new ModuleRunner(
    {
      xmpp: offlineClient,
      component: "monitor.localhost",
      jid: "web01@localhost",
      host: "web01",
      cacheDir,
      log: silentLogger(),
      intervalS: 3600,
      maxOutputBytes: 4096,
      onResult: ({ item }) => results.push(`${item.name} ${item.state} ${item.output}`),
      onChange: () => {},
    },
    { groups: ["web"], trustedKeys },
  );
  runner.loadCache();
  runner.stop();
  return { runner, results };
}

function cacheWith(state: object, versions: Record<number, string>) {
  const dir = mkdtempSync(join(tmpdir(), "jabmon-modcache-"));
  for (const [v, xml] of Object.entries(versions)) {
    mkdirSync(join(dir, "web-basics", `v${v}`), { recursive: true });
    writeFileSync(join(dir, "web-basics", `v${v}`, "module.xml"), xml);
  }
  writeFileSync(join(dir, "web-basics", "state.json"), JSON.stringify(state));
  return dir;
}

describe("the agent's module cache", () => {
  it("runs the current version at start and ignores what a crash mid-write left", () => {
    const dir = cacheWith({ current: 2, previous: 1 }, { 1: item(1), 2: item(2) });
    // A version being written and a state being replaced when the power went.
    mkdirSync(join(dir, "web-basics", "v3.tmp-1a2b3c4d"));
    writeFileSync(join(dir, "web-basics", "v3.tmp-1a2b3c4d", "module.xml"), item(3).slice(0, 100));
    writeFileSync(join(dir, "web-basics", "state.json.tmp-5e6f7a8b"), '{"current":');
    const { runner, results } = runnerOn(dir);
    expect(runner.list()).toEqual(["web-basics@2"]);
    expect(runner.checks().map((c) => c.name)).toEqual(["web-basics/up2"]);
    expect(results).toEqual(["module:web-basics ok web-basics v2 running from the cache"]);
  });

  it("falls back to the previous version when the current one on disk does not verify", () => {
    const tampered = item(2).replace(/<manifest>[^<]+/, (m) => `${m.slice(0, -4)}AAAA`);
    const dir = cacheWith({ current: 2, previous: 1 }, { 1: item(1), 2: tampered });
    expect(runnerOn(dir).runner.list()).toEqual(["web-basics@1"]);
  });

  it("runs nothing from the cache once its signing key is no longer trusted", () => {
    const dir = cacheWith({ current: 1 }, { 1: item(1) });
    expect(runnerOn(dir, [generateSigningKey().publicKey]).runner.list()).toEqual([]);
    expect(readFileSync(join(dir, "web-basics", "state.json"), "utf8")).toBe('{"current":1}');
  });
});

describe("module settings in the agent's configuration", () => {
  const base = (extra: string) => {
    const path = join(mkdtempSync(join(tmpdir(), "jabmon-cfg-")), "agent.yml");
    writeFileSync(path, `xmpp: { jid: web01@localhost, password: s3cret }\n${extra}`);
    return path;
  };

  it("reads groups from the file or the environment", () => {
    expect(loadAgentConfig(base("groups: [web, eu-west]\n"), {}).groups).toEqual([
      "web",
      "eu-west",
    ]);
    expect(loadAgentConfig(base(""), { JABMON_AGENT_GROUPS: "web,db" }).groups).toEqual([
      "web",
      "db",
    ]);
  });

  it("names the key of a bad group or trusted key", () => {
    expect(() => loadAgentConfig(base('groups: ["a b"]\n'), {})).toThrow(
      /groups: group names are 1-64 letters/,
    );
    expect(() => loadAgentConfig(base("trustedKeys: [abc]\n"), {})).toThrow(
      /trustedKeys\.0: must be a base64 Ed25519 public key/,
    );
  });
});
