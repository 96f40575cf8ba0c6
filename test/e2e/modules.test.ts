/**
 * Signed check modules end to end: a real ejabberd, the component with its
 * Redis, real agents (in this process: startAgent, each with its own spool
 * and module cache), the `jabmon module` CLI.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentConfig,
  agentSchema,
  type RunningAgent,
  startAgent,
} from "../../src/agent/index.js";
import { ModuleClient, readSigned, rollback, sign } from "../../src/cli/module.js";
import { silentLogger } from "../../src/log/index.js";
import {
  generateSigningKey,
  loadSigningKey,
  type Manifest,
  moduleElement,
  signManifest,
} from "../../src/modules/index.js";
import { PubsubStore } from "../../src/pubsub/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { Keys } from "../../src/store/index.js";
import { type Element, ltx } from "../../src/xmpp/index.js";
import { askBot, startAdminBot } from "../helpers/chat.js";
import { errorOf, iq, publishIq } from "../helpers/pubsub.js";
import { type Account, CLI, useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const exec = promisify(execFile);

const stack = useStack("modules");
let component: RunningComponent;
let publisher: Account;
let work: string;
let keyFile: string;
let otherKeyFile: string;
let trusted: string;
let client: ModuleClient;
let store: PubsubStore;
let firstDir: string;
const agents = new Map<string, { account: Account; agent: RunningAgent; config: AgentConfig }>();

async function moduleDir(version: number, output: string, extra: Record<string, unknown> = {}) {
  const dir = join(work, `web-basics-v${version}-${Math.random().toString(36).slice(2, 6)}`);
  await mkdir(join(dir, "plugins"), { recursive: true });
  await writeFile(join(dir, "plugins", "hello"), `#!/bin/sh\necho "OK - ${output}"\nexit 0\n`);
  await chmod(join(dir, "plugins", "hello"), 0o755);
  await writeFile(
    join(dir, "module.json"),
    JSON.stringify({
      name: "web-basics",
      version,
      target: { groups: ["web"] },
      checks: [{ type: "nagios", name: "hello", command: "plugins/hello", interval: 1 }],
      ...extra,
    }),
  );
  return dir;
}

async function startTestAgent(name: string, groups: string[]) {
  const existing = agents.get(name);
  const account = existing?.account ?? (await stack.account(name));
  const dir = stack.agentDir(account);
  const config = (
    agentSchema.safeParse({
      xmpp: {
        service: stack.ejabberd.c2sService,
        jid: account.jid,
        password: account.password,
        component: stack.componentJid,
        caFile: stack.caFile,
        reconnectMaxDelayMs: 500,
      },
      interval: 1,
      checks: [],
      groups,
      trustedKeys: [trusted],
      modules: { cacheDir: join(dir, "modules") },
      spool: { dir: join(dir, "spool"), fsync: "never" },
      publish: { timeoutMs: 5000 },
      socket: { enabled: false },
    }) as { data: AgentConfig }
  ).data;
  const entry = { account, config } as {
    account: Account;
    agent: RunningAgent;
    config: AgentConfig;
  };
  // reload() reads the configuration again: here, whatever the test set in entry.config.
  entry.agent = await startAgent(config, silentLogger(), { reloadConfig: () => entry.config });
  agents.set(name, entry);
  const agent = entry.agent;
  return agent;
}

/** The stored results of an agent's node, newest last. */
async function results(jid: string): Promise<Element[]> {
  const node = `agents/${jid}`;
  const stored = await store.itemsByIds(node, await store.itemIds(node));
  return stored.sort((a, b) => a.seq - b.seq).map((i) => ltx.parse(i.payload) as Element);
}

const lastCheck = async (jid: string, name: string) =>
  (await results(jid)).filter((e) => e.attrs.name === name).at(-1);

const waitForCheck = (
  jid: string,
  name: string,
  pred: (e: Element) => boolean,
  timeoutMs = 10_000,
) =>
  waitFor(
    async () => {
      const e = await lastCheck(jid, name);
      return e && pred(e) ? e : undefined;
    },
    { timeoutMs, intervalMs: 50, what: `${name} on ${jid}` },
  );

/** A publish IQ from the publisher's own session, reply returned (result or error). */
const publishAs = async (element: Element) => {
  const version = element.attrs.version as string;
  return iq(
    client.xmpp,
    stack.componentJid,
    "set",
    publishIq("modules/web-basics", element as never, `v${version}`),
  );
};

const jidOf = (name: string) => (agents.get(name) as { account: Account }).account.jid;
const web = ["web1", "web2", "web3"];

beforeAll(async () => {
  publisher = await stack.account("publisher");
  component = await stack.startComponent({
    modules: { publishers: [publisher.jid] },
    rpc: { admins: [publisher.jid, "adminbot@localhost"] },
    pubsub: { admins: [publisher.jid] },
  });
  store = new PubsubStore(component.redis, new Keys(stack.prefix));
  work = await mkdtemp(join(tmpdir(), "jabmon-modules-"));
  keyFile = join(work, "signing.key");
  otherKeyFile = join(work, "other.key");
  const { stdout } = await exec(process.execPath, [CLI, "module", "keygen", "--out", keyFile]);
  trusted = (
    stdout.match(/public key \(add to trustedKeys\): (\S+)/) as RegExpMatchArray
  )[1] as string;
  await writeFile(otherKeyFile, generateSigningKey().privateKeyPem);
  client = await ModuleClient.connect({
    service: stack.ejabberd.c2sService,
    jid: publisher.jid,
    password: publisher.password,
    component: stack.componentJid,
    caFile: stack.caFile,
  });
  for (const name of web) await startTestAgent(name, ["web"]);
  await startTestAgent("db1", ["db"]);
  // Every agent online and following the index before the first publish.
  await waitFor(
    async () => {
      const hosts = await Promise.all(
        [...agents.values()].map((a) => component.hosts.get(a.account.jid)),
      );
      return hosts.every((h) => h?.online) || undefined;
    },
    { timeoutMs: 15_000, what: "agents online" },
  );
  await sleep(500);
});

afterAll(async () => {
  for (const { agent } of agents.values()) await agent.stop().catch(() => {});
  await client?.stop().catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
});

describe("check modules", () => {
  it("a signed module published with the CLI runs on the three agents of its group within 2 s, not on the fourth", async () => {
    const dir = await moduleDir(1, "hello v1");
    firstDir = dir;
    await exec(process.execPath, [CLI, "module", "sign", dir, "--key", keyFile]);
    await exec(process.execPath, [CLI, "module", "publish", dir], {
      env: {
        ...process.env,
        JABMON_MODULE_JID: publisher.jid,
        JABMON_MODULE_PASSWORD: publisher.password,
        JABMON_MODULE_SERVICE: stack.ejabberd.c2sService,
        JABMON_MODULE_CA_FILE: stack.caFile,
        JABMON_COMPONENT_JID: stack.componentJid,
      },
    });
    await Promise.all(
      web.map((name) =>
        waitForCheck(
          jidOf(name),
          "web-basics/hello",
          (e) => e.getChildText("output") === "OK - hello v1",
          5000,
        ),
      ),
    );
    // From the component storing the publish (its audit entry) to each agent's first result of the new check.
    const [entry] = await component.redis.lrange(`${stack.prefix}modules:audit`, 0, 0);
    const publishedAt = (JSON.parse(entry as string) as { time: number }).time;
    for (const name of web) {
      const first = (await results(jidOf(name))).find(
        (e) => e.attrs.name === "web-basics/hello",
      ) as Element;
      expect(Date.parse(first.attrs.time) - publishedAt).toBeLessThan(2000);
    }
    for (const name of web)
      expect(agents.get(name)?.agent.runningModules()).toEqual(["web-basics@1"]);
    expect(agents.get("db1")?.agent.runningModules()).toEqual([]);
    expect(await lastCheck(jidOf("db1"), "web-basics/hello")).toBeUndefined();
    // Presence says it; the status API shows it.
    const host = await waitFor(
      async () => {
        const res = await fetch(
          `${component.httpUrl}/api/hosts/${encodeURIComponent(jidOf("web1"))}`,
        );
        const body = (await res.json()) as { modules?: string[]; groups?: string[] };
        return body.modules?.includes("web-basics@1") ? body : undefined;
      },
      { timeoutMs: 5000, what: "modules in /api/hosts" },
    );
    expect(host.groups).toEqual(["web"]);
  });

  it("an agent's disco#info shows its groups and the modules it runs", async () => {
    const reply = await iq(
      client.xmpp,
      `${jidOf("web1")}/agent`,
      "get",
      xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
    );
    const form = reply.getChild("query")?.getChild("x", "jabber:x:data");
    const values = (name: string) =>
      form
        ?.getChildren("field")
        .find((f) => f.attrs.var === name)
        ?.getChildren("value")
        .map((v) => v.text());
    expect(values("FORM_TYPE")).toEqual(["urn:jabmon:0#agent"]);
    expect(values("groups")).toEqual(["web"]);
    expect(values("modules")).toEqual(["web-basics@1"]);
  });

  it("refuses a publish from a JID that is not a module publisher", async () => {
    const other = await stack.client();
    const dir = await moduleDir(50, "intruder");
    sign(dir, keyFile);
    const element = readSigned(dir);
    const reply = await iq(
      other,
      stack.componentJid,
      "set",
      publishIq("modules/web-basics", element as never, "v50"),
    );
    expect(errorOf(reply)?.[0]).toBe("forbidden");
    const audit = await component.redis.lrange(`${stack.prefix}modules:audit`, 0, -1);
    expect(audit.map((a) => JSON.parse(a).jid)).toEqual([publisher.jid]);
  });

  it("an agent offline during a publish gets the new version when it reconnects", async () => {
    await agents.get("web2")?.agent.stop();
    const dir = await moduleDir(2, "hello v2");
    sign(dir, keyFile);
    await client.publish(readSigned(dir));
    await waitForCheck(
      jidOf("web1"),
      "web-basics/hello",
      (e) => e.getChildText("output") === "OK - hello v2",
    );
    const web2 = await startTestAgent("web2", ["web"]);
    // At start it runs the cached v1, then fetches v2 from the index.
    await waitForCheck(
      jidOf("web2"),
      "web-basics/hello",
      (e) => e.getChildText("output") === "OK - hello v2",
    );
    expect(web2.runningModules()).toEqual(["web-basics@2"]);
  });

  it("refuses a tampered file, an unknown key and a downgrade: the old version keeps running and an alert is raised", async () => {
    const jid = jidOf("web1");
    // Tampered: signed, then a file changed in the item.
    const dir2 = await moduleDir(3, "hello v3");
    sign(dir2, keyFile);
    const signed2 = readSigned(dir2);
    const tampered = ltx.parse(signed2.toString()) as Element;
    (tampered.getChild("file") as Element).children = [
      Buffer.from("#!/bin/sh\necho pwned\n").toString("base64"),
    ];
    await client.publish(tampered);
    await waitForCheck(jid, "module:web-basics", (e) =>
      /refused \(hash-mismatch\)/.test(e.getChildText("output") ?? ""),
    );

    // Unknown key.
    const dir3 = await moduleDir(4, "hello v4");
    sign(dir3, otherKeyFile);
    await client.publish(readSigned(dir3));
    await waitForCheck(jid, "module:web-basics", (e) =>
      /refused \(unknown-key\)/.test(e.getChildText("output") ?? ""),
    );

    // A replay of the genuine, signed v1, as a compromised server would send it
    // (bypassing the component's own version check, which refuses it).
    expect(errorOf(await publishAs(readSigned(firstDir)))?.[0]).toBe("bad-request");
    await component.pubsub.publish("modules/web-basics", readSigned(firstDir), "v1");
    await component.pubsub.publish(
      "modules",
      ltx.parse(
        '<module xmlns="urn:jabmon:0" name="web-basics" version="1" item="v1"/>',
      ) as Element,
      "web-basics",
    );
    await waitForCheck(jid, "module:web-basics", (e) =>
      /v1 refused \(downgrade\): version 1 is older than version 2/.test(
        e.getChildText("output") ?? "",
      ),
    );

    // db1, which the module does not target, logged the refusals but raised nothing.
    expect(await lastCheck(jidOf("db1"), "module:web-basics")).toBeUndefined();

    // v2 still runs: its results keep coming.
    expect(agents.get("web1")?.agent.runningModules()).toEqual(["web-basics@2"]);
    const before = (await lastCheck(jid, "web-basics/hello")) as Element;
    const after = await waitForCheck(
      jid,
      "web-basics/hello",
      (e) => Number(e.attrs.seq) > Number(before.attrs.seq),
    );
    expect(after.getChildText("output")).toBe("OK - hello v2");
    // The monitor raised an alert for the refusal.
    await waitFor(
      async () => {
        const alerts = (await client.rpc("alerts.list", [])) as Array<Record<string, unknown>>;
        return alerts.find(
          (a) => a.jid === jid && a.check === "module:web-basics" && a.state === "critical",
        );
      },
      { timeoutMs: 10_000, what: "an alert for the refused module" },
    );
  });

  it("a version whose checks do not load is rolled back and reported; the session never drops", async () => {
    const jid = jidOf("web3");
    const since = (await component.hosts.get(jid))?.since;
    const dir = await moduleDir(5, "hello v5", {
      checks: [{ type: "tcp", name: "port", port: 99_999 }],
    });
    // sign refuses it: the CLI checks the definitions as the agent will.
    expect(() => sign(dir, keyFile)).toThrow(/checks\.0\.port: must be a port number/);
    // A signer without that check (another tool) still gets it refused by the agent.
    const manifest = JSON.parse(readFileSync(join(dir, "module.json"), "utf8")) as Manifest;
    const full = { ...manifest, minAgentVersion: "0.0.0", files: {} };
    const bytes = Buffer.from(JSON.stringify(full));
    const key = loadSigningKey(readFileSync(keyFile, "utf8"));
    await client.publish(
      moduleElement(
        {
          manifestBytes: bytes,
          files: new Map(),
          canary: 100,
          signature: { key: key.publicKey, value: signManifest(bytes, key) },
        },
        full,
      ),
    );
    await waitForCheck(jid, "module:web-basics", (e) =>
      /v5 rolled back: its checks do not load \(checks\.0\.port/.test(
        e.getChildText("output") ?? "",
      ),
    );
    expect(agents.get("web3")?.agent.runningModules()).toEqual(["web-basics@2"]);
    const before = (await lastCheck(jid, "web-basics/hello")) as Element;
    await waitForCheck(
      jid,
      "web-basics/hello",
      (e) => Number(e.attrs.seq) > Number(before.attrs.seq),
    );
    const host = await component.hosts.get(jid);
    expect(host?.online).toBe(true);
    expect(host?.since).toBe(since);

    // The CLI's rollback re-signs v2's content (the latest earlier version this
    // key signed that verifies whole) as v6: the fleet converges on it.
    const r = await rollback(client, "web-basics", keyFile);
    expect(r).toEqual({ from: 2, version: 6 });
    await waitForCheck(jid, "module:web-basics", (e) =>
      /v6 running/.test(e.getChildText("output") ?? ""),
    );
    expect(agents.get("web3")?.agent.runningModules()).toEqual(["web-basics@6"]);

    // v7 loads, but its plugin cannot run (shipped without the execute bit): every
    // check is unknown at its first run, so v6 runs again; still the same session.
    const dir7 = await moduleDir(7, "never runs");
    await chmod(join(dir7, "plugins", "hello"), 0o644);
    sign(dir7, keyFile);
    await client.publish(readSigned(dir7));
    await waitForCheck(jid, "module:web-basics", (e) =>
      /v7 rolled back: every check failed at its first run .*; v6 runs again/.test(
        e.getChildText("output") ?? "",
      ),
    );
    expect(agents.get("web3")?.agent.runningModules()).toEqual(["web-basics@6"]);
    const sinceV6 = (await lastCheck(jid, "web-basics/hello")) as Element;
    const again = await waitForCheck(
      jid,
      "web-basics/hello",
      (e) => Number(e.attrs.seq) > Number(sinceV6.attrs.seq) && e.attrs.state === "ok",
    );
    expect(again.getChildText("output")).toBe("OK - hello v2");
    expect((await component.hosts.get(jid))?.since).toBe(since);

    // Rolled back on the node too, so that agents joining later do not take v7.
    expect(await rollback(client, "web-basics", keyFile)).toEqual({ from: 6, version: 8 });
    for (const name of web)
      await waitFor(
        async () => agents.get(name)?.agent.runningModules()[0] === "web-basics@8" || undefined,
        {
          timeoutMs: 10_000,
          what: `${name} on v8`,
        },
      );
  });

  it("a group change takes effect without a restart", async () => {
    const db1 = agents.get("db1") as { agent: RunningAgent; config: AgentConfig };
    expect(db1.agent.runningModules()).toEqual([]);
    db1.config = { ...db1.config, groups: ["db", "web"] };
    await db1.agent.reload();
    await waitForCheck(
      jidOf("db1"),
      "web-basics/hello",
      (e) => e.getChildText("output") === "OK - hello v2",
      5000,
    );
    expect(db1.agent.runningModules()).toEqual(["web-basics@8"]);
    // And out again.
    db1.config = { ...db1.config, groups: ["db"] };
    await db1.agent.reload();
    await waitFor(async () => db1.agent.runningModules().length === 0 || undefined, {
      timeoutMs: 5000,
      what: "module removed",
    });
    expect(db1.agent.checkNames()).not.toContain("web-basics/hello");
  });

  it('the AdminBot answers "modules web-basics" with the hosts on each version', async () => {
    const bot = await stack.account("adminbot");
    const alice = await stack.account("alice");
    await startAdminBot(stack, bot, { admins: alice.jid, room: "ops@conference.localhost" });
    await waitFor(
      async () => {
        const records = await Promise.all(web.map((n) => component.hosts.get(jidOf(n))));
        return records.every((h) => h?.modules?.includes("web-basics@8")) || undefined;
      },
      { timeoutMs: 10_000, what: "presence with web-basics@8" },
    );
    const person = await stack.client(alice);
    await person.send(xml("presence"));
    expect(await askBot(person, bot.jid, "modules web-basics")).toBe(
      "web-basics: current v8; 3 on v8.",
    );
    expect(await askBot(person, bot.jid, "modules")).toBe("web-basics v8");
  });

  it("an agent restarted while ejabberd is down runs its cached version at once", async () => {
    await agents.get("web1")?.agent.stop();
    await stack.ejabberd.stop();
    try {
      const web1 = await startTestAgent("web1", ["web"]);
      expect(web1.runningModules()).toEqual(["web-basics@8"]);
      expect(web1.checkNames()).toContain("web-basics/hello");
    } finally {
      await stack.ejabberd.start();
    }
  });
});
