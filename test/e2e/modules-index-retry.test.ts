/**
 * An agent whose first read of the modules index fails (here: its session
 * came up before the component's) tries again in the same session, and runs
 * a module published after that without reconnecting. Before, it heard of
 * no module until its next session.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import { afterAll, describe, expect, it } from "vitest";
import { ModuleRunner } from "../../src/agent/index.js";
import { ModuleClient } from "../../src/cli/module.js";
import { silentLogger } from "../../src/log/index.js";
import {
  generateSigningKey,
  loadSigningKey,
  moduleElement,
  parseManifest,
  signManifest,
} from "../../src/modules/index.js";
import { assembleClient, type XmppClient } from "../../src/xmpp/index.js";
import { useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const stack = useStack("modretry");
const key = generateSigningKey();
const signing = loadSigningKey(key.privateKeyPem);
let work: string | undefined;
let client: ModuleClient | undefined;
let xmpp: XmppClient | undefined;
let runner: ModuleRunner | undefined;

function signedModule() {
  const manifest = parseManifest({
    name: "late",
    version: 1,
    target: { hosts: ["early*"] },
    checks: [{ type: "uptime", name: "up", interval: 3600 }],
  });
  const bytes = Buffer.from(JSON.stringify(manifest));
  return moduleElement(
    {
      manifestBytes: bytes,
      files: new Map(),
      canary: 100,
      signature: { key: signing.publicKey, value: signManifest(bytes, signing) },
    },
    manifest,
  );
}

afterAll(async () => {
  runner?.stop();
  await xmpp?.stop().catch(() => {});
  await client?.stop().catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the modules index read", () => {
  it("is tried again in the same session after it failed, and the module published later runs", async () => {
    work = await mkdtemp(join(tmpdir(), "jabmon-modretry-"));
    const account = await stack.account("early-agent");
    xmpp = assembleClient({
      service: stack.ejabberd.c2sService,
      jid: account.jid,
      password: account.password,
      resource: "agent",
      streamManagement: false,
      caFile: stack.caFile,
    });
    xmpp.on("error", () => {});
    runner = new ModuleRunner(
      {
        xmpp,
        component: stack.componentJid,
        jid: account.jid,
        host: account.user,
        cacheDir: join(work, "modules"),
        log: silentLogger(),
        intervalS: 3600,
        maxOutputBytes: 4096,
        onResult: () => {},
        onChange: () => {},
      },
      { groups: [], trustedKeys: [key.publicKey] },
    );
    await xmpp.start();
    await xmpp.send(xml("presence") as never);
    // No component yet: ejabberd answers the disco with an error.
    runner.online();
    await runner.idle();
    expect(runner.list()).toEqual([]);

    const publisher = await stack.account("publisher");
    await stack.startComponent({
      modules: { publishers: [publisher.jid] },
      http: { enabled: false },
    });
    client = await ModuleClient.connect({
      service: stack.ejabberd.c2sService,
      jid: publisher.jid,
      password: publisher.password,
      component: stack.componentJid,
      caFile: stack.caFile,
    });
    await client.publish(signedModule());
    // The same session, no online() call: the retry (2.5-5 s, then 5-10 s) subscribes and fetches.
    await waitFor(() => runner?.list().includes("late@1"), {
      timeoutMs: 30_000,
      what: "late@1 installed",
    });
    expect(xmpp.status).toBe("online");
  }, 90_000);
});
