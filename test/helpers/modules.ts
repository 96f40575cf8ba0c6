/**
 * Check-module test helpers: a signed module item, the publisher's client,
 * and a real XMPP session running the agent's module code (ModuleRunner, as
 * in every agent) without the rest of the agent.
 */
import { join } from "node:path";
import { xml } from "@xmpp/client";
import { ModuleRunner } from "../../src/agent/index.js";
import { ModuleClient } from "../../src/cli/module.js";
import { silentLogger } from "../../src/log/index.js";
import { moduleElement, parseManifest, signManifest } from "../../src/modules/index.js";
import { assembleClient, type XmppClient } from "../../src/xmpp/index.js";
import type { Account, TestStack } from "./stack.js";

type SigningKey = Parameters<typeof signManifest>[1];

/** The `<module/>` item of `manifest` (checked by parseManifest), signed with `signing`. */
export function signedModule(
  signing: SigningKey,
  manifest: Parameters<typeof parseManifest>[0],
  canary = 100,
) {
  const parsed = parseManifest(manifest);
  const bytes = Buffer.from(JSON.stringify(parsed));
  return moduleElement(
    {
      manifestBytes: bytes,
      files: new Map(),
      canary,
      signature: { key: signing.publicKey, value: signManifest(bytes, signing) },
    },
    parsed,
  );
}

/** A module publisher's client of the stack's component. */
export function publisherClient(stack: TestStack, publisher: Account): Promise<ModuleClient> {
  return ModuleClient.connect({
    service: stack.ejabberd.c2sService,
    jid: publisher.jid,
    password: publisher.password,
    component: stack.componentJid,
    caFile: stack.caFile,
  });
}

export interface ModuleSession {
  xmpp: XmppClient;
  runner: ModuleRunner;
}

/**
 * An online, available session of `account` with a ModuleRunner trusting
 * `trustedKeys`, its cache under `workDir`; its first read of the modules
 * index done (runner.online()).
 */
export async function moduleSession(
  stack: TestStack,
  account: Account,
  options: { workDir: string; trustedKeys: string[]; onResult?: () => void },
): Promise<ModuleSession> {
  const xmpp = assembleClient({
    service: stack.ejabberd.c2sService,
    jid: account.jid,
    password: account.password,
    resource: "agent",
    streamManagement: false,
    caFile: stack.caFile,
  });
  xmpp.on("error", () => {});
  const runner = new ModuleRunner(
    {
      xmpp,
      component: stack.componentJid,
      jid: account.jid,
      host: account.user,
      cacheDir: join(options.workDir, account.user),
      log: silentLogger(),
      intervalS: 3600,
      maxOutputBytes: 4096,
      onResult: options.onResult ?? (() => {}),
      onChange: () => {},
    },
    { groups: [], trustedKeys: options.trustedKeys },
  );
  await xmpp.start();
  // Available, so the index's notifications to the bare JID reach the session.
  await xmpp.send(xml("presence") as never);
  runner.online();
  await runner.idle();
  return { xmpp, runner };
}
