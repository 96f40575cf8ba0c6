/**
 * The HTTP gateway to Jabber-RPC, end to end: a real ejabberd, Redis, the
 * component with the gateway on, a real agent; stock XML-RPC clients (the
 * `xmlrpc` npm package and Python's xmlrpc.client) and plain HTTP.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../src/gateway/index.js";
import { RedisRpcQueue } from "../../src/rpc/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { Keys } from "../../src/store/index.js";
import { type Account, type TestStack, useStack, waitForHost } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const run = promisify(execFile);
const require = createRequire(import.meta.url);

interface XmlRpcClient {
  methodCall(
    method: string,
    params: unknown[],
    callback: (
      err: (Error & { faultCode?: number; faultString?: string }) | null,
      value: unknown,
    ) => void,
  ): void;
}
const xmlrpc = require("xmlrpc") as {
  createClient(options: {
    host: string;
    port: number;
    path: string;
    basic_auth?: { user: string; pass: string };
  }): XmlRpcClient;
};

const stack = useStack("gateway");
let component: RunningComponent;
let statusUrl: string;
let gatewayUrl: string;
let port: number;
let agentAccount: Account;
let offlineAccount: Account;
let agent: ReturnType<TestStack["spawnAgent"]>;

const ADMIN_TOKEN = "admin-token-0123456789abcdef";
const VIEWER_TOKEN = "viewer-token-0123456789abcdef";
const RATE_TOKEN = "rate-token-0123456789abcdef";
const ADMIN = "gwadmin@localhost";
const VIEWER = "gwviewer@localhost";
const RATE = "gwrate@localhost";
const PROBE_TOKEN = "probe-token-0123456789abcdef";
const PROBE = "gwprobe@localhost";
const HOLD_TOKEN = "hold-token-0123456789abcdef";
const HOLD = "gwhold@localhost";
const CALLS_PER_SECOND = 5;

const AGENT_CONFIG = join(mkdtempSync(join(tmpdir(), "jabmon-gw-")), "agent.yml");
writeFileSync(
  AGENT_CONFIG,
  "checks:\n  - { type: uptime, name: uptime }\n  - { type: load, name: load }\n",
);

const checkRuns = () =>
  agent
    .output()
    .split("\n")
    .filter((line) => line.includes('"msg":"rpc check.run"')).length;

beforeAll(async () => {
  agentAccount = await stack.account("gwweb01");
  offlineAccount = await stack.account("gwgone01");
  component = await stack.startComponent({
    rpc: { admins: [ADMIN, RATE, HOLD], viewers: [VIEWER, PROBE] },
    gateway: {
      enabled: true,
      port: 0,
      tokens: [
        { jid: ADMIN, sha256: hashToken(ADMIN_TOKEN) },
        { jid: VIEWER, sha256: hashToken(VIEWER_TOKEN) },
        { jid: RATE, sha256: hashToken(RATE_TOKEN) },
        { jid: PROBE, sha256: hashToken(PROBE_TOKEN) },
        { jid: HOLD, sha256: hashToken(HOLD_TOKEN) },
      ],
      maxBodyBytes: 4096,
      callsPerSecond: CALLS_PER_SECOND,
      maxInFlight: 2,
    },
  });
  statusUrl = component.httpUrl as string;
  gatewayUrl = component.gateway?.url as string;
  port = Number(new URL(gatewayUrl).port);
  // A host that was online once and is gone now.
  const gone = stack.spawnAgent(offlineAccount, { JABMON_AGENT_HOST: "gwgone01.example" });
  await waitForHost(statusUrl, offlineAccount.jid, (h) => h.online === true, 15_000);
  gone.kill("SIGKILL");
  await waitForHost(statusUrl, offlineAccount.jid, (h) => h.online === false, 15_000);
  agent = stack.spawnAgent(agentAccount, {
    JABMON_AGENT_HOST: "gwweb01.example",
    JABMON_AGENT_CONFIG: AGENT_CONFIG,
    JABMON_LOG_LEVEL: "info",
  });
  await waitForHost(statusUrl, agentAccount.jid, (h) => h.online === true, 15_000);
}, 60_000);

function nodeCall(token: string, method: string, params: unknown[] = []) {
  const client = xmlrpc.createClient({
    host: "127.0.0.1",
    port,
    path: "/RPC2",
    basic_auth: { user: "ignored", pass: token },
  });
  return new Promise<{
    value?: unknown;
    fault?: { code?: number; message?: string };
    error?: string;
  }>((resolve) =>
    client.methodCall(method, params, (err, value) => {
      if (!err) resolve({ value });
      else if (err.faultCode !== undefined)
        resolve({ fault: { code: err.faultCode, message: err.faultString } });
      else resolve({ error: err.message });
    }),
  );
}

/** Python's standard library client; prints one JSON line: value, fault or HTTP error. */
async function pythonCall(token: string, method: string, params: unknown[] = []) {
  const script = `
import json, sys, xmlrpc.client
url, method, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
proxy = xmlrpc.client.ServerProxy(url, allow_none=True)
try:
    value = getattr(proxy, method)(*params)
    print(json.dumps({"value": value}, default=str))
except xmlrpc.client.Fault as f:
    print(json.dumps({"fault": {"code": f.faultCode, "message": f.faultString}}))
except xmlrpc.client.ProtocolError as e:
    print(json.dumps({"http": e.errcode}))
`;
  const url = `http://py:${encodeURIComponent(token)}@127.0.0.1:${port}/RPC2`;
  const { stdout } = await run("python3", ["-c", script, url, method, JSON.stringify(params)]);
  return JSON.parse(stdout) as {
    value?: unknown;
    fault?: { code: number; message: string };
    http?: number;
  };
}

function post(path: string, token: string | undefined, body: string, type = "text/xml") {
  return fetch(`${gatewayUrl}${path}`, {
    method: "POST",
    headers: { "content-type": type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
}

const methodCall = (method: string, ...strings: string[]) =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${strings
    .map((s) => `<param><value><string>${s}</string></value></param>`)
    .join("")}</params></methodCall>`;

describe("the HTTP gateway to Jabber-RPC", () => {
  it("answers a component method to Node's xmlrpc client", async () => {
    const { value } = await nodeCall(ADMIN_TOKEN, "host.status", [agentAccount.jid]);
    expect(value).toMatchObject({ jid: agentAccount.jid, host: "gwweb01.example", online: true });
    const list = await nodeCall(VIEWER_TOKEN, "hosts.list", ["gwweb*"]);
    expect((list.value as Array<{ jid: string }>).map((h) => h.jid)).toEqual([agentAccount.jid]);
  });

  it("runs an agent method through the component for Node's xmlrpc client", async () => {
    const before = checkRuns();
    const { value } = await nodeCall(ADMIN_TOKEN, "check.run", [agentAccount.jid, "uptime"]);
    expect(value).toMatchObject({ name: "uptime", state: "ok" });
    expect(checkRuns()).toBe(before + 1);
  });

  it("answers Python's xmlrpc.client: a component method, an agent method, a fault", async () => {
    const status = await pythonCall(VIEWER_TOKEN, "host.status", [agentAccount.jid]);
    expect(status.value).toMatchObject({ jid: agentAccount.jid, online: true });
    const check = await pythonCall(ADMIN_TOKEN, "check.run", [agentAccount.jid, "load"]);
    expect(check.value).toMatchObject({ name: "load" });
    const unknown = await pythonCall(ADMIN_TOKEN, "no.such.method");
    expect(unknown.fault?.code).toBe(-32601);
    expect(unknown.fault?.message).toContain("unknown method 'no.such.method'");
  });

  it("returns the XML-RPC fault for an unknown method (Node)", async () => {
    const { fault } = await nodeCall(VIEWER_TOKEN, "hosts.delete");
    expect(fault).toEqual({
      code: -32601,
      message: "unknown method 'hosts.delete'; system.listMethods lists the methods",
    });
  });

  it("refuses a bad or missing token with HTTP 401 and sends no call to the agent", async () => {
    const before = checkRuns();
    const body = methodCall("check.run", agentAccount.jid, "uptime");
    const wrong = await post("/RPC2", "not-a-valid-token-at-all", body);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toContain("Bearer");
    expect((await post("/RPC2", undefined, body)).status).toBe(401);
    expect((await pythonCall("wrong-token", "check.run", [agentAccount.jid, "uptime"])).http).toBe(
      401,
    );
    const json = await post(
      "/api/rpc/check.run",
      "nope",
      JSON.stringify({ params: [agentAccount.jid, "uptime"] }),
      "application/json",
    );
    expect(json.status).toBe(401);
    // A call the agent did get would be logged by now (the authorised one above took milliseconds).
    const control = await nodeCall(ADMIN_TOKEN, "check.run", [agentAccount.jid, "uptime"]);
    expect(control.value).toMatchObject({ name: "uptime" });
    expect(checkRuns()).toBe(before + 1);
  });

  it("applies the RPC access list to the token's JID: a viewer gets 403 for an admin method", async () => {
    const before = checkRuns();
    const reply = await post(
      "/RPC2",
      VIEWER_TOKEN,
      methodCall("check.run", agentAccount.jid, "uptime"),
    );
    expect(reply.status).toBe(403);
    expect(await reply.text()).toContain(`${VIEWER} is a viewer`);
    const listed = await nodeCall(VIEWER_TOKEN, "system.listMethods");
    expect(listed.value).not.toContain("check.run");
    expect(checkRuns()).toBe(before);
  });

  it("answers JSON on /api/rpc/<method>, faults with an HTTP status", async () => {
    // The viewer token's calls of the tests before may still fill this second's rate.
    await sleep(1100);
    const ok = await post(
      "/api/rpc/host.status",
      VIEWER_TOKEN,
      JSON.stringify({ params: [agentAccount.jid] }),
      "application/json",
    );
    expect(ok.status).toBe(200);
    const { result } = (await ok.json()) as { result: Record<string, unknown> };
    expect(result).toMatchObject({ jid: agentAccount.jid, online: true });
    expect(typeof result.lastSeen).toBe("string");
    const unknown = await post("/api/rpc/nope", VIEWER_TOKEN, "[]", "application/json");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      error: { code: -32601, name: "JABMON_RPC_UNKNOWN_METHOD" },
    });
    const bad = await post(
      "/api/rpc/host.status",
      VIEWER_TOKEN,
      JSON.stringify({ params: [42] }),
      "application/json",
    );
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain(
      "parameter 'jid' (1) must be string, got int",
    );
  });

  it("gives a clear fault for an offline agent, or queues the call until it expires", async () => {
    const now = await nodeCall(ADMIN_TOKEN, "check.run", [offlineAccount.jid, "uptime", 0]);
    expect(now.fault?.code).toBe(-32002);
    expect(now.fault?.message).toContain("is offline");
    const started = Date.now();
    const queued = await pythonCall(ADMIN_TOKEN, "check.run", [offlineAccount.jid, "uptime", 1]);
    expect(queued.fault?.code).toBe(-32003);
    expect(queued.fault?.message).toContain("it was not run");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("answers malformed XML-RPC with fault -32700 and a body that is not XML with 415", async () => {
    const broken = await post(
      "/RPC2",
      ADMIN_TOKEN,
      "<methodCall><methodName>x</methodCall>",
      "text/xml; charset=utf-8",
    );
    expect(broken.status).toBe(200);
    const text = await broken.text();
    expect(text).toContain("<name>faultCode</name><value><int>-32700</int></value>");
    expect(text).toContain("not well-formed XML");
    const entity = await post(
      "/RPC2",
      ADMIN_TOKEN,
      '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY e "boom">]><methodCall><methodName>&e;</methodName></methodCall>',
    );
    expect(await entity.text()).toContain("<int>-32700</int>");
    const notXml = await post("/RPC2", ADMIN_TOKEN, "hosts.list", "text/plain");
    expect(notXml.status).toBe(415);
  });

  it("refuses a body over maxBodyBytes with HTTP 413", async () => {
    const big = methodCall("host.status", "x".repeat(5000));
    const reply = await post("/RPC2", ADMIN_TOKEN, big);
    expect(reply.status).toBe(413);
    expect(await reply.text()).toContain("larger than 4096 bytes");
    // The gateway keeps serving.
    expect((await nodeCall(ADMIN_TOKEN, "hosts.list")).value).toBeInstanceOf(Array);
  });

  it("refuses calls over the per-token rate with HTTP 429; other tokens are not affected", async () => {
    const body = methodCall("hosts.list");
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () =>
        post("/RPC2", RATE_TOKEN, body).then(async (r) => ({
          status: r.status,
          text: await r.text(),
        })),
      ),
    );
    const elapsedS = (Date.now() - started) / 1000;
    const limited = statuses.filter((s) => s.status === 429);
    // The burst, plus what refilled while the requests went out.
    expect(20 - limited.length).toBeLessThanOrEqual(
      CALLS_PER_SECOND + Math.ceil(elapsedS * CALLS_PER_SECOND),
    );
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]?.text).toContain(`more than ${CALLS_PER_SECOND} calls per second`);
    expect((await post("/RPC2", VIEWER_TOKEN, body)).status).toBe(200);
    // The bucket refills.
    await waitFor(async () => (await post("/RPC2", RATE_TOKEN, body)).status === 200, {
      timeoutMs: 3000,
      intervalMs: 300,
    });
  });

  it("refuses a call past maxInFlight with HTTP 503 while others wait, and serves again after", async () => {
    // Two calls queued for the offline host hold both slots for about 3 s
    // (a token of their own: the earlier tests spent the admin token's calls).
    const held = [
      nodeCall(HOLD_TOKEN, "check.run", [offlineAccount.jid, "uptime", 3]),
      nodeCall(HOLD_TOKEN, "check.run", [offlineAccount.jid, "load", 3]),
    ];
    // Both wait in the agent's queue: no slot is left.
    const queue = new RedisRpcQueue(component.redis, new Keys(stack.prefix));
    await waitFor(async () => (await queue.length(offlineAccount.jid)) === 2, {
      timeoutMs: 2000,
      what: "two queued calls",
    });
    const refused = await post("/RPC2", PROBE_TOKEN, methodCall("hosts.list"));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await refused.text()).toContain("2 calls are being answered already; retry later");
    const outcomes = await Promise.all(held);
    expect(outcomes.map((o) => o.fault?.code)).toEqual([-32003, -32003]);
    expect((await post("/RPC2", PROBE_TOKEN, methodCall("hosts.list"))).status).toBe(200);
  });
});
