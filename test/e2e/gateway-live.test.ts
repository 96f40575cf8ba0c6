/**
 * The live view over XMPP, in real Chromium: public/live.html logs in with an
 * operator's own account over ejabberd's WebSocket endpoint, reads the
 * component's `hosts` pubsub node and follows its notifications. A host
 * killed while the page is open turns red within 2 s, without a reload.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { ARTIFACTS, launchBrowser } from "../helpers/browser.js";
import { type Account, type TestStack, useStack, waitForHost } from "../helpers/stack.js";

const stack = useStack("gateway-live", { http: true });
let component: RunningComponent;
let browser: Browser;
let operator: Account;
let outsider: Account;
let web: Account;
let db: Account;
let webAgent: ReturnType<TestStack["spawnAgent"]>;

beforeAll(async () => {
  operator = await stack.account("liveop");
  outsider = await stack.account("liveoutsider");
  web = await stack.account("liveweb01");
  db = await stack.account("livedb01");
  component = await stack.startComponent({ pubsub: { subscribers: [operator.jid] } });
  const url = component.httpUrl as string;
  webAgent = stack.spawnAgent(web, { JABMON_AGENT_HOST: "liveweb01.example" });
  stack.spawnAgent(db, { JABMON_AGENT_HOST: "livedb01.example" });
  await waitForHost(url, web.jid, (h) => h.online === true, 15_000);
  await waitForHost(url, db.jid, (h) => h.online === true, 15_000);
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

async function openLive(account: Account) {
  const page = await browser.newPage();
  const ws = stack.ejabberd.websocketUrl as string;
  await page.goto(
    `${component.httpUrl}/live.html?ws=${encodeURIComponent(ws)}&component=${stack.componentJid}`,
  );
  await page.fill("#jid", account.jid);
  await page.fill("#password", account.password);
  await page.click("#connect");
  return page;
}

describe("the live view over XMPP WebSocket", () => {
  it("shows the fleet from the hosts node and turns a killed host red within 2 s without reload", async () => {
    const page = await openLive(operator);
    const row = (jid: string) => `tr[data-jid="${jid}"]`;
    await page.waitForSelector(`${row(web.jid)}:not([data-state="down"])`, { timeout: 15_000 });
    await page.waitForSelector(`${row(db.jid)}:not([data-state="down"])`, { timeout: 15_000 });
    expect(await page.textContent("#xmpp-state")).toBe(`live as ${operator.jid}`);
    // A reload would lose this marker.
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 42;
    });

    const killed = Date.now();
    webAgent.kill("SIGKILL");
    await page.waitForSelector(`${row(web.jid)}[data-state="down"] .state.down`, { timeout: 2000 });
    const elapsed = Date.now() - killed;
    expect(elapsed).toBeLessThan(2000);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    expect(await page.getAttribute(row(db.jid), "data-state")).not.toBe("down");
    expect(await page.textContent(`${row(web.jid)} td:nth-child(3)`)).toBe("went offline");
    const color = await page.$eval(`${row(web.jid)} .state`, (e) => getComputedStyle(e).color);
    expect(color).toBe("rgb(155, 17, 17)");
    // The host-down alert arrives on the alerts node too.
    await page.waitForSelector(`#alerts li[data-kind="host"]`, { timeout: 10_000 });
    expect(await page.textContent("#alerts li")).toContain("DOWN liveweb01.example");
    await page.screenshot({ path: `${ARTIFACTS}/gateway-live.png` });
    await page.close();
  });

  it("has BOSH next to WebSocket on ejabberd's loopback HTTP listener", async () => {
    const port = stack.ejabberd.config.httpPort as number;
    const response = await fetch(`http://127.0.0.1:${port}/bosh`, {
      method: "POST",
      headers: { "content-type": "text/xml; charset=utf-8" },
      body: `<body rid="1" to="${stack.domain}" xml:lang="en" wait="10" hold="1" ver="1.6" xmlns="http://jabber.org/protocol/httpbind" xmlns:xmpp="urn:xmpp:xbosh" xmpp:version="1.0"/>`,
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/sid=['"][^'"]+['"]/);
    expect(text).toContain("<mechanism>PLAIN</mechanism>");
  });

  it("tells an account that may not read the nodes why nothing shows", async () => {
    const page = await openLive(outsider);
    await page.waitForFunction(
      () => document.getElementById("error")?.textContent?.includes("pubsub.subscribers"),
      undefined,
      { timeout: 15_000 },
    );
    expect(await page.$$("tr[data-jid]")).toHaveLength(0);
    await page.close();
  });
});
