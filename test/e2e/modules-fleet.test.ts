/**
 * Check modules across many sessions: a canary roll-out to 100 real XMPP
 * sessions running the agent's module code (ModuleRunner, as in every agent),
 * and a module signed and published by Python (cryptography + slixmpp), not
 * by our code: the documented format is the contract.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModuleRunner } from "../../src/agent/index.js";
import { type ModuleClient, withCanary } from "../../src/cli/module.js";
import { generateSigningKey, inCanary, loadSigningKey } from "../../src/modules/index.js";
import type { XmppClient } from "../../src/xmpp/index.js";
import { moduleSession, publisherClient, signedModule } from "../helpers/modules.js";
import { type Account, useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";
const SESSIONS = 100;

const stack = useStack("modfleet");
let work: string;
let publisher: Account;
let client: ModuleClient;
const key = generateSigningKey();
const sessions: Array<{ jid: string; xmpp: XmppClient; runner: ModuleRunner }> = [];

const signedFleetModule = (name: string, version: number, canary: number) =>
  signedModule(
    loadSigningKey(key.privateKeyPem),
    {
      name,
      version,
      target: { hosts: ["fleet-*"] },
      checks: [{ type: "uptime", name: "up", interval: 3600 }],
    },
    canary,
  );

const running = (module: string) =>
  sessions.filter((s) => s.runner.list().some((m) => m.startsWith(`${module}@`)));

beforeAll(async () => {
  publisher = await stack.account("publisher");
  await stack.startComponent({
    modules: { publishers: [publisher.jid] },
    rpc: { viewers: [publisher.jid] },
    http: { enabled: false },
  });
  work = await mkdtemp(join(tmpdir(), "jabmon-modfleet-"));
  client = await publisherClient(stack, publisher);
  for (let batch = 0; batch < SESSIONS; batch += 10) {
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const account = await stack.account(`fleet-${batch + i}`);
        const { xmpp, runner } = await moduleSession(stack, account, {
          workDir: work,
          trustedKeys: [key.publicKey],
        });
        sessions.push({ jid: account.jid, xmpp, runner });
      }),
    );
  }
}, 180_000);

afterAll(async () => {
  for (const s of sessions) s.runner.stop();
  await Promise.all(sessions.map((s) => s.xmpp.stop().catch(() => {})));
  await client?.stop().catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
});

describe("module roll-out", () => {
  it("--canary 10% reaches the sessions whose JID hashes into the 10%, about 10 of 100; promote reaches the rest", async () => {
    const expected = sessions
      .filter((s) => inCanary(s.jid, 10))
      .map((s) => s.jid)
      .sort();
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(expected.length).toBeLessThanOrEqual(20);
    await client.publish(withCanary(signedFleetModule("fleet-basics", 1, 100), 10));
    await waitFor(() => running("fleet-basics").length >= expected.length || undefined, {
      timeoutMs: 10_000,
      what: "canary installs",
    });
    // Give the others time to (wrongly) install it too.
    await new Promise((r) => setTimeout(r, 1000));
    expect(
      running("fleet-basics")
        .map((s) => s.jid)
        .sort(),
    ).toEqual(expected);

    await client.publish(withCanary(await client.current("fleet-basics"), 100));
    await waitFor(() => running("fleet-basics").length === SESSIONS || undefined, {
      timeoutMs: 15_000,
      what: "every session on v1",
    });
    // The audit says who did what: a publish to 10 %, then a promote.
    const audit = (await client.rpc("modules.audit", ["fleet-basics"])) as Array<
      Record<string, unknown>
    >;
    expect(audit.map((e) => [e.action, e.version, e.canary, e.jid])).toEqual([
      ["promote", 1, 100, publisher.jid],
      ["publish", 1, 10, publisher.jid],
    ]);
  });

  it("accepts a module signed and published by Python's cryptography and slixmpp like its own", async () => {
    const keyFile = join(work, "py.key");
    await writeFile(keyFile, key.privateKeyPem);
    const script = join(work, "publish_module.py");
    await writeFile(script, PY_PUBLISH);
    const { stdout } = await run(
      PYTHON,
      [
        script,
        publisher.jid,
        publisher.password,
        "127.0.0.1",
        String(stack.ejabberd.config.c2sPort),
        stack.componentJid,
        keyFile,
      ],
      {
        timeout: 30_000,
        env: { ...process.env, PYTHONPATH: "", JABMON_TEST_CA_FILE: stack.caFile as string },
      },
    );
    expect(JSON.parse(stdout.trim().split("\n").pop() ?? "{}")).toEqual({ published: "v3" });
    await waitFor(() => running("py-module").length === SESSIONS || undefined, {
      timeoutMs: 15_000,
      what: "every session on py-module",
    });
    expect(sessions[0]?.runner.list()).toContain("py-module@3");
    expect(sessions[0]?.runner.checks().map((c) => c.name)).toContain("py-module/py-uptime");
  });
});

/** Signs with the documented bytes (`urn:jabmon:0:module\n` + manifest) and builds the item by hand. */
const PY_PUBLISH = String.raw`
import asyncio, base64, hashlib, json, os, sys
import slixmpp
from slixmpp.xmlstream import ET
from cryptography.hazmat.primitives import serialization

jid, password, host, port, service, key_file = sys.argv[1:7]
key = serialization.load_pem_private_key(open(key_file, "rb").read(), password=None)
raw_pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
readme = b"published from Python\n"
manifest = json.dumps({
    "name": "py-module", "version": 3, "minAgentVersion": "0.1.0",
    "target": {"hosts": ["fleet-*"]},
    "checks": [{"type": "uptime", "name": "py-uptime", "interval": 3600}],
    "files": {"README": {"sha256": hashlib.sha256(readme).hexdigest(), "mode": 420}},
}).encode()
signature = key.sign(b"urn:jabmon:0:module\n" + manifest)
b64 = lambda b: base64.b64encode(b).decode()
payload = ET.fromstring(
    '<module xmlns="urn:jabmon:0" name="py-module" version="3">'
    '<manifest>%s</manifest><file path="README">%s</file>'
    '<signature algorithm="ed25519" key="%s">%s</signature></module>'
    % (b64(manifest), b64(readme), b64(raw_pub), b64(signature)))
out = {}

class Bot(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(jid, password)
        self.register_plugin("xep_0060")
        self.add_event_handler("session_start", self.start)

    async def start(self, event):
        try:
            res = await self["xep_0060"].publish(service, "modules/py-module", id="v3", payload=payload)
            out["published"] = res["pubsub"]["publish"]["item"]["id"]
        except Exception as e:
            out["error"] = repr(e)
        print(json.dumps(out), flush=True)
        self.disconnect()

bot = Bot()
# STARTTLS (the server requires it), verifying the stack's self-signed certificate.
bot.ca_certs = os.environ["JABMON_TEST_CA_FILE"]
bot.connect(address=(host, int(port)), force_starttls=True)
asyncio.get_event_loop().run_until_complete(bot.disconnected)
`;
