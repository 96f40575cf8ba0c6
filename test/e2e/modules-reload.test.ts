/**
 * A hot reload leaves nothing of the old version behind: one real XMPP
 * session running the agent's module code (ModuleRunner, as in every agent)
 * takes 30 new versions of a module from the component over a real ejabberd;
 * afterwards every superseded version's check objects can be collected (no
 * scheduler timer, closure, probation entry or cache still holds them) and
 * the runner has added no listener to the session. This is what "no RSS
 * growth over reloads" (bench:modules) rests on, asserted without timing.
 */
import type { EventEmitter } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Check } from "../../src/agent/checks.js";
import type { ModuleRunner } from "../../src/agent/index.js";
import type { ModuleClient } from "../../src/cli/module.js";
import { generateSigningKey, loadSigningKey } from "../../src/modules/index.js";
import type { XmppClient } from "../../src/xmpp/index.js";
import { moduleSession, publisherClient, signedModule } from "../helpers/modules.js";
import { useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const RELOADS = 30;
const stack = useStack("modreload");
const key = generateSigningKey();
const signing = loadSigningKey(key.privateKeyPem);
let work: string;
let client: ModuleClient;
let xmpp: XmppClient;
let runner: ModuleRunner;
let results = 0;

/** A full collection, from inside a test worker started without --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/** Version `version` of the module: two checks, so the scheduler holds two timers per version. */
const reloadModule = (version: number) =>
  signedModule(signing, {
    name: "reload",
    version,
    target: { hosts: ["reloader*"] },
    checks: [
      { type: "uptime", name: "up", interval: 3600 },
      { type: "load", name: "load", interval: 3600 },
    ],
  });

beforeAll(async () => {
  const publisher = await stack.account("publisher");
  await stack.startComponent({
    modules: { publishers: [publisher.jid] },
    http: { enabled: false },
  });
  work = await mkdtemp(join(tmpdir(), "jabmon-modreload-"));
  client = await publisherClient(stack, publisher);
  ({ xmpp, runner } = await moduleSession(stack, await stack.account("reloader"), {
    workDir: join(work, "modules"),
    trustedKeys: [key.publicKey],
    onResult: () => {
      results += 1;
    },
  }));
}, 90_000);

afterAll(async () => {
  runner?.stop();
  await xmpp?.stop().catch(() => {});
  await client?.stop().catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
});

describe("module hot reload", () => {
  it(`after ${RELOADS} reloads no superseded version's checks are retained and no listener was added`, async () => {
    // xmpp.js's client is an EventEmitter; the shared type names only on/off.
    const emitter = xmpp as unknown as EventEmitter;
    const listeners = () =>
      emitter.eventNames().map((name) => `${String(name)}=${emitter.listenerCount(name)}`);
    const listenersBefore = listeners();
    const superseded: Array<{ version: number; checks: Array<WeakRef<Check>> }> = [];
    for (let version = 1; version <= RELOADS + 1; version++) {
      const resultsBefore = results;
      await client.publish(reloadModule(version));
      await waitFor(() => runner.list().includes(`reload@${version}`), {
        timeoutMs: 10_000,
        what: `reload@${version} installed`,
      });
      // Its checks ran once (the scheduler's first run), so each has a pending timer for the next.
      await waitFor(() => results >= resultsBefore + 3, { what: `v${version}'s first results` });
      expect(runner.checks().map((c) => c.name)).toEqual(["reload/up", "reload/load"]);
      superseded.push({ version, checks: runner.checks().map((c) => new WeakRef(c)) });
    }
    await runner.idle();
    const current = superseded.pop();
    // WeakRefs are cleared only after the job that collected; a few turns settle it.
    for (let i = 0; i < 3; i++) {
      collectGarbage();
      await sleep(20);
    }
    const retained = superseded
      .filter(({ checks }) => checks.some((ref) => ref.deref() !== undefined))
      .map(({ version }) => version);
    expect(retained).toEqual([]);
    // The running version is held, as it must be: the collection did not just free everything.
    expect(current?.checks.every((ref) => ref.deref() !== undefined)).toBe(true);
    expect(listeners()).toEqual(listenersBefore);
  }, 120_000);
});
