import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { ARTIFACTS, launchBrowser } from "../helpers/browser.js";
import { useStack, waitForHost } from "../helpers/stack.js";

const stack = useStack("page");
let component: RunningComponent;
let browser: Browser;

beforeAll(async () => {
  component = await stack.startComponent();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe("the status page in a real browser", () => {
  it("lists hosts and turns a host red within 2 s of its agent being killed, without reload", async () => {
    const url = component.httpUrl as string;
    const calm = await stack.account("calm01");
    const victim = await stack.account("victim01");
    stack.spawnAgent(calm);
    const agent = stack.spawnAgent(victim);
    await waitForHost(url, victim.jid, (h) => h.online === true, 15_000);
    await waitForHost(url, calm.jid, (h) => h.online === true, 15_000);

    const page = await browser.newPage();
    await page.goto(`${url}/`);
    const row = page.locator(`tr[data-jid="${victim.jid}"]`);
    await row.waitFor({ timeout: 5000 });
    expect(await page.locator(`tr[data-jid="${calm.jid}"]`).count()).toBe(1);
    expect(await row.getAttribute("data-state")).not.toBe("down");
    await page.locator("#live.on").waitFor({ timeout: 5000 });

    const killedAt = Date.now();
    agent.kill("SIGKILL");
    await page
      .locator(`tr[data-jid="${victim.jid}"][data-state="down"]`)
      .waitFor({ timeout: 2000 });
    expect(Date.now() - killedAt).toBeLessThan(2000);
    // Worst first: the dead host now leads the list.
    expect(await page.locator("tbody#hosts tr[data-jid]").first().getAttribute("data-jid")).toBe(
      victim.jid,
    );
    // Read the colour from the row as it is now: a live update may replace the
    // element between finding it and reading it (a detached one has no style).
    const stateColour = (jid: string) =>
      page.evaluate((j) => {
        const cell = document.querySelector(`tr[data-jid="${j}"] .state`);
        return cell ? getComputedStyle(cell).color : "no row";
      }, jid);
    await expect.poll(() => stateColour(victim.jid), { timeout: 2000 }).toBe("rgb(155, 17, 17)");
    await page.screenshot({ path: join(ARTIFACTS, "overview.png"), fullPage: true });

    await page.fill("#search", "calm");
    await page
      .locator(`tr[data-jid="${victim.jid}"]`)
      .waitFor({ state: "detached", timeout: 3000 });
    expect(await page.locator(`tr[data-jid="${calm.jid}"]`).count()).toBe(1);
    await page.close();
  }, 60_000);

  it("opens a host page from the overview", async () => {
    const url = component.httpUrl as string;
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    await page.locator('a[href*="calm01"]').click();
    await page.waitForURL(/host\.html\?jid=calm01/);
    await page.locator("#facts .state").waitFor({ timeout: 5000 });
    expect(await page.textContent("#title")).toBe(
      await page.evaluate(() => document.title.replace("jabmon · ", "")),
    );
    await page.screenshot({ path: join(ARTIFACTS, "host.png"), fullPage: true });
    await page.close();
  });
});
