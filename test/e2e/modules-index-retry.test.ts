/**
 * An agent whose first read of the modules index fails (here: its session
 * came up before the component's) tries again in the same session, and runs
 * a module published after that without reconnecting. Before, it heard of
 * no module until its next session.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ModuleClient } from "../../src/cli/module.js";
import { generateSigningKey, loadSigningKey } from "../../src/modules/index.js";
import {
  type ModuleSession,
  moduleSession,
  publisherClient,
  signedModule,
} from "../helpers/modules.js";
import { useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const stack = useStack("modretry");
const key = generateSigningKey();
const signing = loadSigningKey(key.privateKeyPem);
let work: string | undefined;
let client: ModuleClient | undefined;
let session: ModuleSession | undefined;

afterAll(async () => {
  session?.runner.stop();
  await session?.xmpp.stop().catch(() => {});
  await client?.stop().catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the modules index read", () => {
  it("is tried again in the same session after it failed, and the module published later runs", async () => {
    work = await mkdtemp(join(tmpdir(), "jabmon-modretry-"));
    // No component yet: ejabberd answers the first read's disco with an error.
    session = await moduleSession(stack, await stack.account("early-agent"), {
      workDir: work,
      trustedKeys: [key.publicKey],
    });
    const { runner, xmpp } = session;
    expect(runner.list()).toEqual([]);

    const publisher = await stack.account("publisher");
    await stack.startComponent({
      modules: { publishers: [publisher.jid] },
      http: { enabled: false },
    });
    client = await publisherClient(stack, publisher);
    await client.publish(
      signedModule(signing, {
        name: "late",
        version: 1,
        target: { hosts: ["early*"] },
        checks: [{ type: "uptime", name: "up", interval: 3600 }],
      }),
    );
    // The same session, no online() call: the retry (2.5-5 s, then 5-10 s) subscribes and fetches.
    await waitFor(() => runner.list().includes("late@1"), {
      timeoutMs: 30_000,
      what: "late@1 installed",
    });
    expect(xmpp.status).toBe("online");
  }, 90_000);
});
