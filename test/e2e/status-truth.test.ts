/**
 * Issue 16: a passive CRITICAL result sent through the agent's socket makes
 * the host critical in every view: the JSON API, /metrics, Jabber-RPC, the
 * AdminBot, the agent's own presence text and both pages in Chromium.
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Client, xml } from "@xmpp/client";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RpcValue } from "../../src/rpc/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { launchBrowser } from "../helpers/browser.js";
import { askBot, startAdminBot, type TestAdminBot } from "../helpers/chat.js";
import { checkXml, publishEntry } from "../helpers/ingest.js";
import { rpcValue } from "../helpers/rpc.js";
import { type Account, CLI, useStack, waitForHost } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const run = promisify(execFile);
const room = "truth@conference.localhost";

const stack = useStack("truth");
let component: RunningComponent;
let url: string;
let vm: Account;
let bot: Account;
let alice: Account;
let aliceClient: Client;
let adminBot: TestAdminBot;
let browser: Browser;
let socket: string;

beforeAll(async () => {
  vm = await stack.account("vm");
  bot = await stack.account("truthbot");
  alice = await stack.account("alice");
  component = await stack.startComponent({ rpc: { admins: [bot.jid], viewers: [alice.jid] } });
  url = component.httpUrl as string;
  const dir = stack.agentDir(vm);
  await mkdir(dir, { recursive: true });
  const config = join(dir, "agent.yml");
  // Two scheduled checks that pass on any machine.
  await writeFile(
    config,
    "checks:\n  - { type: uptime, name: uptime }\n  - { type: memory, name: memory, warn: 100, crit: 100 }\n",
  );
  socket = join(dir, "agent.sock");
  stack.spawnCli(["agent", "-c", config], stack.agentEnv(vm, { JABMON_AGENT_HOST: "vm" }));
  await waitForHost(url, vm.jid, (h) => h.online === true && h.checks === 2, 20_000);
  adminBot = await startAdminBot(stack, bot, { admins: alice.jid, room });
  aliceClient = await stack.client(alice);
  await aliceClient.send(xml("presence"));
  browser = await launchBrowser();
}, 90_000);
afterAll(async () => {
  await browser?.close();
});

const rpc = (client: Client, method: string, params: RpcValue[]): Promise<RpcValue> =>
  rpcValue(client, stack.componentJid, method, params);

const getJson = async (path: string) => (await fetch(`${url}${path}`)).json();

describe("a passive critical result", () => {
  it("makes the host critical in every view", async () => {
    const before = (await getJson(`/api/hosts/${vm.jid}`)) as Record<string, unknown>;
    expect(before.state).toBe("ok");
    await run(process.execPath, [CLI, "check-result", "webcheck", "2", "CRIT something"], {
      env: { ...process.env, JABMON_AGENT_SOCKET: socket },
    });
    const summary = "1 of 3 checks critical: webcheck";
    // HTTP API: the host, the filter and the counts.
    const host = (await waitForHost(
      url,
      vm.jid,
      (h) => h.state === "critical" && h.status === summary,
      15_000,
    )) as Record<string, unknown>;
    expect(host).toMatchObject({ state: "critical", summary, checks: 3, failing: 1 });
    const critical = (await getJson("/api/hosts?state=critical")) as Array<{ jid: string }>;
    expect(critical.map((h) => h.jid)).toEqual([vm.jid]);
    expect(await getJson("/api/hosts?state=ok")).toEqual([]);
    expect(await getJson("/api/summary")).toMatchObject({ critical: 1, ok: 0, total: 1 });
    expect(((await getJson(`/api/hosts/${vm.jid}`)) as { state: string }).state).toBe("critical");

    // Prometheus.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^jabmon_hosts\{state="critical"\} 1$/m);
    expect(metrics).toMatch(/^jabmon_hosts\{state="ok"\} 0$/m);
    expect(metrics).toContain(`jabmon_host_state{jid="${vm.jid}",host="vm"} 2`);

    // Jabber-RPC (as a viewer) and the AdminBot, which asks the same RPC.
    const listed = (await rpc(aliceClient, "hosts.list", [{ state: "critical" }])) as Array<
      Record<string, RpcValue>
    >;
    expect(listed.map((h) => [h.jid, h.state, h.summary])).toEqual([[vm.jid, "critical", summary]]);
    const status = (await rpc(aliceClient, "host.status", [vm.jid])) as Record<string, RpcValue>;
    expect(status.state).toBe("critical");
    const ask = (text: string) =>
      askBot(aliceClient, bot.jid, text, { diagnostics: adminBot.state });
    expect(await ask("what's critical?")).toBe(`CRIT vm: ${summary}`);
    expect(await ask("what's down?")).toBe(`CRIT vm: ${summary}`);

    // The pages, in Chromium: the overview's counts and row, the host's header.
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    await page
      .locator(`tr[data-jid="${vm.jid}"][data-state="critical"]`)
      .waitFor({ timeout: 5000 });
    await waitFor(
      async () =>
        (await page.textContent('button.count[data-state="critical"] b')) === "1" &&
        (await page.textContent('button.count[data-state="ok"] b')) === "0",
      { timeoutMs: 5000, what: "overview counts 1 critical, 0 ok" },
    );
    expect(await page.textContent(`tr[data-jid="${vm.jid}"]`)).toContain(summary);
    await page.goto(`${url}/host.html?jid=${encodeURIComponent(vm.jid)}`);
    await page.locator("#facts .state.critical").waitFor({ timeout: 5000 });
    expect(await page.textContent("#facts b")).toBe(summary);
    await page.close();
  }, 90_000);

  it("clears everywhere when the check passes again", async () => {
    await run(process.execPath, [CLI, "check-result", "webcheck", "0", "OK fine"], {
      env: { ...process.env, JABMON_AGENT_SOCKET: socket },
    });
    await waitForHost(
      url,
      vm.jid,
      (h) => h.state === "ok" && h.status === "all 3 checks ok" && h.summary === "all 3 checks ok",
      15_000,
    );
    expect(await getJson("/api/summary")).toMatchObject({ critical: 0, ok: 1 });
    const listed = (await rpc(aliceClient, "hosts.list", [{ problems: true }])) as unknown[];
    expect(listed).toEqual([]);
  }, 30_000);

  it("renders both pages with no console error or failed request, and readable charts", async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => {
      // The live stream is cut when the page navigates away: not a failure.
      if (!r.url().endsWith("/api/stream")) problems.push(`failed: ${r.url()}`);
    });
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
    });
    await page.goto(`${url}/`);
    await page.locator(`tr[data-jid="${vm.jid}"]`).waitFor({ timeout: 5000 });
    await page.locator("#live.on").waitFor({ timeout: 5000 });
    await page.goto(`${url}/host.html?jid=${encodeURIComponent(vm.jid)}`);
    await page.locator("#facts .state").waitFor({ timeout: 5000 });
    const chart = page.locator("#charts .chart").first();
    await chart.waitFor({ timeout: 10_000 });
    await page.locator("#live.on").waitFor({ timeout: 5000 });
    // A host minutes old: the time axis spans the last hour up to now, not years.
    const [from, to] = [
      Number(await chart.getAttribute("data-from")),
      Number(await chart.getAttribute("data-to")),
    ];
    const now = Date.now() / 1000;
    expect(to - from).toBeGreaterThanOrEqual(3600);
    expect(to - from).toBeLessThan(2 * 3600);
    expect(Math.abs(to - now)).toBeLessThan(120);
    const titles = await page.locator("#charts .u-title").allTextContents();
    expect(titles.length).toBeGreaterThan(0);
    for (const title of titles) expect(title).not.toContain("/");
    expect(titles).toContain("memory used (%)");
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("counts a stored critical result even when the presence and the score say ok", async () => {
    // A host whose agent's presence says ok and whose score (check_critical: 2) maps to ok:
    // only the monitor's own tally, kept in the commit, knows it is critical.
    const db = "db7@localhost";
    await component.hosts.recordPresence(db, `${db}/agent`, {
      host: "db7",
      state: "ok",
      status: "all 0 checks ok",
    });
    await publishEntry(
      component.redis,
      stack.prefix,
      db,
      1,
      checkXml(1, "backupcheck", "critical"),
    );
    const host = (await waitForHost(url, db, (h) => h.state === "critical", 10_000)) as Record<
      string,
      unknown
    >;
    expect(host).toMatchObject({
      summary: "1 of 1 check critical: backupcheck",
      status: "all 0 checks ok",
      checks: 1,
      failing: 1,
    });
    const detail = (await getJson(`/api/hosts/${db}`)) as { score: { state: string } | null };
    expect(detail.score?.state ?? "ok").toBe("ok");
    const counts = (await getJson("/api/summary")) as Record<string, number>;
    expect(counts.critical).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain(`jabmon_host_state{jid="${db}",host="db7"} 2`);
  }, 30_000);
});
