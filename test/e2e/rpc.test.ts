import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Client, xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { RpcStruct } from "../../src/rpc/index.js";
import { decodeMethodResponse, type RpcValue } from "../../src/rpc/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { iq } from "../helpers/iq.js";
import { NS_RPC, rpcCall } from "../helpers/rpc.js";
import { type Account, type TestStack, useStack, waitForHost } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const run = promisify(execFile);

const stack = useStack("rpc");
let component: RunningComponent;
let url: string;
let admin: Account;
let viewer: Account;
let agentAccount: Account;
let adminClient: Client;
let viewerClient: Client;

beforeAll(async () => {
  admin = await stack.account("rpcadmin");
  viewer = await stack.account("rpcviewer");
  agentAccount = await stack.account("web01");
  component = await stack.startComponent({
    rpc: { admins: [admin.jid], viewers: [viewer.jid], maxCallBytes: 4096 },
  });
  url = component.httpUrl as string;
  adminClient = await stack.client(admin);
  viewerClient = await stack.client(viewer);
});

type Reply = ReturnType<typeof xml>;

/** Send a raw IQ set and return the reply stanza, result or error. */
const rawCall = (client: Client, payload: Reply, to = stack.componentJid) =>
  iq(client, to, "set", payload);

/** Build a call with our codec, send it, decode the answer (result) or keep the IQ error. */
const call = (client: Client, method: string, params: RpcValue[] = [], to = stack.componentJid) =>
  rpcCall(client, to, method, params);

const condition = (stanza: Reply) =>
  stanza
    .getChild("error")
    ?.getChildElements()
    .find((c) => c.attrs.xmlns === NS_STANZAS)?.name;

/** Three configured checks, so that queued calls can be told apart by name. */
const AGENT_CONFIG = join(mkdtempSync(join(tmpdir(), "jabmon-rpc-")), "agent.yml");
writeFileSync(
  AGENT_CONFIG,
  "checks:\n  - { type: load, name: load }\n  - { type: disk, name: disk_root, mounts: [/] }\n  - { type: uptime, name: uptime }\n",
);

async function startAgent(account: Account) {
  const agent = stack.spawnAgent(account, {
    JABMON_AGENT_HOST: `${account.user}.example`,
    JABMON_AGENT_CONFIG: AGENT_CONFIG,
    JABMON_LOG_LEVEL: "info",
  });
  await waitForHost(url, account.jid, (h) => h.online === true, 15_000);
  return agent;
}

const checkRuns = (output: string, check: string) =>
  output
    .split("\n")
    .filter((line) => line.includes('"msg":"rpc check.run"') && line.includes(`"check":"${check}"`))
    .length;

describe("the Jabber-RPC endpoint", () => {
  let agent: ReturnType<TestStack["spawnAgent"]>;

  beforeAll(async () => {
    agent = await startAgent(agentAccount);
  });

  it("answers hosts.list and host.status for a viewer", async () => {
    const list = await call(viewerClient, "hosts.list");
    expect(list.response?.ok).toBe(true);
    const hosts = (list.response as { value: RpcStruct[] }).value;
    expect(hosts.map((h) => h.jid)).toContain(agentAccount.jid);
    const status = await call(viewerClient, "host.status", [agentAccount.jid]);
    expect(status.response).toMatchObject({
      ok: true,
      value: { jid: agentAccount.jid, host: "web01.example", online: true },
    });
    expect((status.response as { value: RpcStruct }).value.lastSeen).toBeInstanceOf(Date);
  });

  it("filters hosts.list by glob and by problems", async () => {
    const byGlob = await call(viewerClient, "hosts.list", ["web*"]);
    expect((byGlob.response as { value: RpcStruct[] }).value.map((h) => h.jid)).toEqual([
      agentAccount.jid,
    ]);
    const none = await call(viewerClient, "hosts.list", [{ pattern: "db*" }]);
    expect((none.response as { value: RpcStruct[] }).value).toEqual([]);
    const bad = await call(viewerClient, "hosts.list", [{ state: "purple" }]);
    expect(bad.response).toMatchObject({ ok: false, code: -32602, message: /filter.state/ });
  });

  it("refuses a JID that is neither admin nor viewer with a forbidden stanza error", async () => {
    const stranger = await stack.client();
    const { reply } = await call(stranger, "hosts.list");
    expect(reply.attrs.type).toBe("error");
    expect(condition(reply)).toBe("forbidden");
  });

  it("refuses a write method to a viewer with forbidden", async () => {
    const { reply } = await call(viewerClient, "check.run", [agentAccount.jid, "load"]);
    expect(reply.attrs.type).toBe("error");
    expect(condition(reply)).toBe("forbidden");
    expect(reply.getChild("error")?.getChildText("text", NS_STANZAS)).toMatch(/needs admin/);
  });

  it("answers an unknown method, a wrong parameter type and malformed XML-RPC with faults", async () => {
    expect((await call(adminClient, "hosts.delete")).response).toMatchObject({
      ok: false,
      code: -32601,
      message: /unknown method 'hosts.delete'/,
    });
    expect((await call(adminClient, "host.status", [42])).response).toMatchObject({
      ok: false,
      code: -32602,
      message: "host.status: parameter 'jid' (1) must be string, got int",
    });
    expect((await call(adminClient, "host.status", [])).response).toMatchObject({
      ok: false,
      message: /missing parameter 'jid'/,
    });
    const malformed = await rawCall(
      adminClient,
      xml(
        "query",
        { xmlns: NS_RPC },
        xml(
          "methodCall",
          {},
          xml("methodName", {}, "hosts.list"),
          xml("params", {}, xml("param", {}, xml("value", {}, xml("int", {}, "x")))),
        ),
      ),
    );
    expect(decodeMethodResponse(malformed.getChild("query", NS_RPC) as never)).toMatchObject({
      ok: false,
      code: -32700,
      message: /not an integer/,
    });
  });

  it("refuses an oversized call with a fault and keeps serving", async () => {
    const { response } = await call(adminClient, "hosts.list", ["x".repeat(5000)]);
    expect(response).toMatchObject({ ok: false, code: -32600, message: /limit is 4096 bytes/ });
    expect((await call(adminClient, "hosts.list")).response?.ok).toBe(true);
  });

  it("lists the methods a caller may use", async () => {
    const mine = (await call(viewerClient, "system.listMethods")).response as { value: string[] };
    expect(mine.value).toContain("hosts.list");
    expect(mine.value).not.toContain("check.run");
    const all = (await call(adminClient, "system.listMethods")).response as { value: string[] };
    expect(all.value).toEqual(expect.arrayContaining(["check.run", "agent.reload", "silence.add"]));
  });

  it("answers alerts.list and silence.list from the monitor (test/e2e/rpc-alerts.test.ts has the rest)", async () => {
    expect((await call(viewerClient, "alerts.list")).response).toMatchObject({
      ok: true,
      value: expect.any(Array),
    });
    expect((await call(viewerClient, "silence.list")).response).toEqual({ ok: true, value: [] });
  });

  it("forwards check.run to the online agent, which runs the configured check", async () => {
    const { response } = await call(adminClient, "check.run", [agentAccount.jid, "disk"]);
    expect(response).toMatchObject({
      ok: true,
      value: {
        name: "disk_root",
        state: expect.stringMatching(/ok|warning|critical/),
        output: /^DISK \w+ - used: \/ [\d.]+%/,
      },
    });
    await waitFor(() => checkRuns(agent.output(), "disk_root") === 1, { what: "agent log line" });
  });

  it("passes the agent's fault for a check that is not configured", async () => {
    const { response } = await call(adminClient, "check.run", [agentAccount.jid, "rm -rf /"]);
    expect(response).toMatchObject({
      ok: false,
      code: -32005,
      message: /no check named 'rm -rf \/'/,
    });
  });

  it("forwards agent.reload: the agent re-reads its file, and a bad file changes nothing", async () => {
    const config = join(mkdtempSync(join(tmpdir(), "jabmon-reload-")), "agent.yml");
    writeFileSync(config, "checks:\n  - { type: load, name: load }\n");
    const account = await stack.account("reloader");
    stack.spawnAgent(account, { JABMON_AGENT_CONFIG: config, JABMON_LOG_LEVEL: "info" });
    await waitForHost(url, account.jid, (h) => h.online === true, 15_000);
    expect((await call(adminClient, "check.run", [account.jid, "uptime"])).response).toMatchObject({
      ok: false,
    });

    writeFileSync(
      config,
      "checks:\n  - { type: load, name: load }\n  - { type: uptime, name: uptime }\n",
    );
    const { response } = await call(adminClient, "agent.reload", [account.jid]);
    expect(response).toMatchObject({
      ok: true,
      value: { message: /reloaded: 2 checks \(load, uptime\)/ },
    });
    expect((await call(adminClient, "check.run", [account.jid, "uptime"])).response).toMatchObject({
      ok: true,
      value: { name: "uptime", state: "ok" },
    });

    writeFileSync(config, "checks:\n  - { type: load, name: load, warn: lots }\n");
    const bad = (await call(adminClient, "agent.reload", [account.jid])).response;
    expect(bad).toMatchObject({ ok: false, message: /checks\.0\.warn/ });
    // Still the previous configuration.
    expect((await call(adminClient, "check.run", [account.jid, "uptime"])).response).toMatchObject({
      ok: true,
    });
  });

  it("the agent refuses RPC from anyone but the component", async () => {
    const fullJid = (
      (await call(viewerClient, "host.status", [agentAccount.jid])).response as {
        value: RpcStruct;
      }
    ).value;
    const host = await component.hosts.get(agentAccount.jid);
    expect(fullJid.jid).toBe(agentAccount.jid);
    const { reply } = await call(adminClient, "check.run", ["load"], host?.fullJid);
    expect(reply.attrs.type).toBe("error");
    expect(condition(reply)).toBe("forbidden");
  });

  it("is interoperable with slixmpp's XEP-0009 plugin (hosts.list, host.status, faults)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jabmon-slixmpp-"));
    const script = join(dir, "slixmpp_rpc.py");
    cpSync(join(import.meta.dirname, "fixtures", "slixmpp_rpc.py"), script);
    // Debian's python3 has python3-slixmpp; the python3 first on PATH may not.
    const { stdout } = await run(
      "/usr/bin/python3",
      [
        script,
        viewer.jid,
        viewer.password,
        "127.0.0.1",
        String(stack.ejabberd.config.c2sPort),
        stack.componentJid,
        agentAccount.jid,
      ],
      { timeout: 25_000, env: { ...process.env, JABMON_TEST_CA_FILE: stack.caFile } },
    );
    const result = JSON.parse(stdout.trim().split("\n").pop() as string);
    expect(result.error).toBeUndefined();
    expect(result["hosts.list"].map((h: { jid: string }) => h.jid)).toContain(agentAccount.jid);
    expect(result["hosts.list(pattern)"]).toHaveLength(1);
    expect(result["host.status"]).toMatchObject({
      jid: agentAccount.jid,
      host: "web01.example",
      online: true,
      state: expect.stringMatching(/ok|warning|critical|unknown/),
    });
    // slixmpp's rpctime prints XML-RPC's basic form.
    expect(result["host.status"].lastSeen).toMatch(/^\d{8}T\d{2}:\d{2}:\d{2}$/);
    expect(result["host.status(unknown)"]).toEqual({
      fault: { code: -32001, string: "no host nobody@localhost is known" },
    });
    expect(result["host.status(int)"].fault.string).toMatch(/parameter 'jid' \(1\) must be string/);
  });
});

describe("RPC to an offline agent", () => {
  it("expires a 5 s request before the agent returns at 10 s (never run), and runs 60 s requests exactly once, in order, on return", async () => {
    const account = await stack.account("web09");
    const first = await startAgent(account);
    first.kill("SIGKILL");
    await waitForHost(url, account.jid, (h) => h.online === false, 5000);

    const sentAt = Date.now();
    const short = call(adminClient, "check.run", [account.jid, "load", 5]);
    const long1 = call(adminClient, "check.run", [account.jid, "disk_root", 60]);
    const long2 = call(adminClient, "check.run", [account.jid, "uptime", 60]);

    const expired = await short;
    const expiredAfter = Date.now() - sentAt;
    expect(expired.response).toMatchObject({
      ok: false,
      code: -32003,
      message: /expired.*not run/,
    });
    expect(expiredAfter).toBeGreaterThanOrEqual(5000);
    expect(expiredAfter).toBeLessThan(9000);

    await sleep(Math.max(0, 10_000 - (Date.now() - sentAt)));
    const second = await startAgent(account);
    const [r1, r2] = await Promise.all([long1, long2]);
    expect(r1.response).toMatchObject({ ok: true, value: { name: "disk_root" } });
    expect(r2.response).toMatchObject({ ok: true, value: { name: "uptime" } });

    await sleep(2000); // anything late or duplicated would show up by now
    const out = second.output();
    expect(checkRuns(out, "load")).toBe(0);
    expect(checkRuns(out, "disk_root")).toBe(1);
    expect(checkRuns(out, "uptime")).toBe(1);
    expect(out.indexOf('"check":"disk_root"')).toBeLessThan(out.indexOf('"check":"uptime"'));
  }, 45_000);

  it("fails at once with expiry 0 when the agent is offline", async () => {
    const account = await stack.account("web08");
    const agent = await startAgent(account);
    agent.kill("SIGKILL");
    await waitForHost(url, account.jid, (h) => h.online === false, 5000);
    expect((await call(adminClient, "check.run", [account.jid, "load", 0])).response).toMatchObject(
      {
        ok: false,
        code: -32002,
      },
    );
  });

  it("still answers queued callers after the component restarts: the expiry fault and the late result", async () => {
    const account = await stack.account("web07");
    const first = await startAgent(account);
    first.kill("SIGKILL");
    await waitForHost(url, account.jid, (h) => h.online === false, 5000);

    const short = call(adminClient, "check.run", [account.jid, "load", 4]);
    const long = call(adminClient, "check.run", [account.jid, "uptime", 60]);
    await waitFor(
      async () => (await component.redis.llen(`${stack.prefix}rpc:queue:${account.jid}`)) === 2,
      {
        what: "two queued requests",
      },
    );

    await component.stop();
    component = await stack.startComponent({
      rpc: { admins: [admin.jid], viewers: [viewer.jid], maxCallBytes: 4096 },
    });
    url = component.httpUrl as string;

    // Sent by the new process, which never saw these IQs, from what the queue kept.
    expect((await short).response).toMatchObject({ ok: false, code: -32003 });
    const second = await startAgent(account);
    expect((await long).response).toMatchObject({ ok: true, value: { name: "uptime" } });
    expect(checkRuns(second.output(), "load")).toBe(0);
    expect(checkRuns(second.output(), "uptime")).toBe(1);
  }, 45_000);
});
