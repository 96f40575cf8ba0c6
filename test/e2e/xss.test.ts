/**
 * The pages escape everything an agent sends (docs/security.md "Authorisation
 * matrix" / issue 13): an agent publishes `<script>` and `<img onerror>`
 * payloads in its status text, a check's name and output, and a log line, and
 * tries one as its host name; in Chromium, nothing runs on the overview, the
 * host page or public/live.html, and the payloads show as text.
 */
import { type Client, xml } from "@xmpp/client";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { launchBrowser } from "../helpers/browser.js";
import { iq, publishIq } from "../helpers/pubsub.js";
import { type Account, useStack, waitForHost } from "../helpers/stack.js";

const SCRIPT = "<script>window.__xss=(window.__xss||0)+1</script>";
const IMG = `<img src="x:" onerror="window.__xss=(window.__xss||0)+1">`;
const ATTR = `"'><img src="x:" onerror="window.__xss=(window.__xss||0)+1">`;
const PAYLOAD = `${SCRIPT}${IMG}${ATTR}`;

const stack = useStack("xss", { http: true });
let component: RunningComponent;
let browser: Browser;
let agent: Account;
let agentClient: Client;
let operator: Account;

beforeAll(async () => {
  operator = await stack.account("xssoperator");
  component = await stack.startComponent({ pubsub: { subscribers: [operator.jid] } });
  agent = await stack.account("xss01");
  agentClient = await stack.client(agent);
  browser = await launchBrowser();
}, 90_000);
afterAll(async () => {
  await browser?.close();
});

const now = () => new Date().toISOString();

async function publishHostile() {
  // A host name is checked against RFC 1123 and refused otherwise; the status text is free.
  await agentClient.send(
    xml(
      "presence",
      { to: stack.componentJid },
      xml("show", {}, "dnd"),
      xml("status", {}, `status ${PAYLOAD}`),
      xml("x", { xmlns: "urn:jabmon:0", host: `${SCRIPT}.example`, version: `v${IMG}` }),
    ),
  );
  const node = `agents/${agent.jid}`;
  const results = [
    xml(
      "check",
      { xmlns: "urn:jabmon:0", seq: "1", time: now(), name: `load${IMG}`, state: "critical" },
      xml("output", {}, `output ${PAYLOAD}`),
      xml("metric", { name: `m${IMG}`, value: "1", uom: `%${SCRIPT}` }),
    ),
    xml(
      "event",
      { xmlns: "urn:jabmon:0", seq: "2", time: now(), type: "log", severity: "critical" },
      xml("text", {}, `log line ${PAYLOAD}`),
    ),
  ];
  for (const payload of results) {
    const reply = await iq(agentClient, stack.componentJid, "set", publishIq(node, payload));
    expect(reply.attrs.type).toBe("result");
  }
}

/** Nothing ran, no element was injected, and the payload is on the page as text. */
async function expectInert(page: Page, text: string) {
  await page
    .waitForFunction((t) => document.body.innerText.includes(t), text, { timeout: 15_000 })
    .catch(async (err) => {
      throw new Error(
        `"${text}" not on ${page.url()}: ${(err as Error).message}\n${await page.evaluate(() => document.body.innerText)}`,
      );
    });
  await new Promise((r) => setTimeout(r, 500));
  expect(
    await page.evaluate(() => (window as unknown as { __xss?: number }).__xss),
  ).toBeUndefined();
  expect(await page.locator('img[src="x:"]').count()).toBe(0);
  expect(await page.evaluate(() => document.body.innerText)).toContain("onerror=");
}

describe("hostile text from an agent in the browser", () => {
  it("runs nothing on the overview, the host page and the live view", async () => {
    const url = component.httpUrl as string;
    await publishHostile();
    await waitForHost(url, agent.jid, (h) => String(h.status ?? "").includes("<script>"), 15_000);
    // The host name was refused: the record keeps the JID's local part.
    const record = await (await fetch(`${url}/api/hosts/${encodeURIComponent(agent.jid)}`)).json();
    expect(JSON.stringify(record)).not.toContain(`${SCRIPT}.example`);

    const dialogs: string[] = [];
    const overview = await browser.newPage();
    overview.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await overview.goto(`${url}/`);
    await overview.locator(`tr[data-jid="${agent.jid}"]`).waitFor({ timeout: 10_000 });
    await expectInert(overview, "critical: load<img");
    await overview.close();

    const host = await browser.newPage();
    await host.goto(`${url}/host.html?jid=${encodeURIComponent(agent.jid)}`);
    await expectInert(host, "output <script>");
    await expectInert(host, "log line <script>");
    await host.close();

    const live = await browser.newPage();
    const ws = stack.ejabberd.websocketUrl as string;
    await live.goto(
      `${url}/live.html?ws=${encodeURIComponent(ws)}&component=${stack.componentJid}`,
    );
    await live.fill("#jid", operator.jid);
    await live.fill("#password", operator.password);
    await live.click("#connect");
    await live.locator(`tr[data-jid="${agent.jid}"]`).waitFor({ timeout: 15_000 });
    await expectInert(live, "status <script>");
    await live.close();
    expect(dialogs).toEqual([]);
  }, 90_000);
});
