import { join } from "node:path";
import { xml } from "@xmpp/client";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { ARTIFACTS, launchBrowser } from "../helpers/browser.js";
import { iq, NS_JABMON, publishIq } from "../helpers/pubsub.js";
import { type Account, useStack, waitForHost } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const stack = useStack("detail");
let component: RunningComponent;
let browser: Browser;
let url: string;
let agent: Account;

const node = () => `agents/${agent.jid}`;
let seq = 0;
const stamp = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();

/**
 * Acting as an agent over real XMPP: presence to the component, then results
 * published to its own node, exactly as docs/protocol.md describes.
 */
beforeAll(async () => {
  component = await stack.startComponent();
  url = component.httpUrl as string;
  browser = await launchBrowser();
  agent = await stack.account("db01");
  const client = await stack.client(agent);
  await client.send(
    xml(
      "presence",
      { to: stack.componentJid },
      xml("status", {}, "all ok"),
      xml("x", { xmlns: NS_JABMON, host: "db01", state: "ok" }),
    ),
  );
  await waitForHost(url, agent.jid, (h) => h.online === true, 5000);
  const publish = async (payload: ReturnType<typeof xml>) => {
    const reply = await iq(client, stack.componentJid, "set", publishIq(node(), payload));
    expect(reply.attrs.type).toBe("result");
  };
  // A disk filling up over ten minutes, then a log event and a backup report.
  for (let i = 10; i >= 0; i--) {
    const used = 80 + (10 - i) * 1.8;
    await publish(
      xml(
        "check",
        {
          xmlns: NS_JABMON,
          seq: String(++seq),
          time: stamp(i),
          name: "disk_var",
          state: used >= 95 ? "critical" : used >= 90 ? "warning" : "ok",
        },
        xml("output", {}, `DISK ${used.toFixed(0)}% used on /var`),
        xml("metric", {
          name: "/var",
          value: used.toFixed(1),
          uom: "%",
          warn: "90",
          crit: "95",
          min: "0",
          max: "100",
        }),
      ),
    );
  }
  await publish(
    xml(
      "event",
      {
        xmlns: NS_JABMON,
        seq: String(++seq),
        time: stamp(0),
        type: "log",
        severity: "critical",
        path: "/var/log/syslog",
      },
      xml("text", {}, "kernel: I/O error, dev sda"),
    ),
  );
  await publish(
    xml("backup", {
      xmlns: NS_JABMON,
      seq: String(++seq),
      time: stamp(0),
      job: "nightly-db",
      status: "ok",
      size_bytes: "123456789",
      duration_s: "42",
    }),
  );
}, 90_000);

afterAll(async () => {
  await browser?.close();
});

describe("a host's detail", () => {
  it("shows its checks, score breakdown, metric series, events and backups in the API", async () => {
    const detail = await waitFor(
      async () => {
        const body = (await (
          await fetch(`${url}/api/hosts/${encodeURIComponent(agent.jid)}`)
        ).json()) as Record<string, any>;
        // The score is rescored (debounced) after the items: wait for one that saw them.
        return body.backups?.length > 0 && body.score?.total > 0 ? body : undefined;
      },
      { timeoutMs: 10_000, what: "the monitor to process the items" },
    );
    expect(detail.checks).toEqual([
      expect.objectContaining({
        name: "disk_var",
        state: "critical",
        output: "DISK 98% used on /var",
      }),
    ]);
    expect(detail.score.total).toBeGreaterThan(0);
    expect(detail.score.rules.length).toBeGreaterThan(0);
    expect(
      detail.score.rules.reduce((sum: number, r: { weight: number }) => sum + r.weight, 0),
    ).toBe(detail.score.total);
    const series = detail.metrics["disk_var//var"];
    expect(series.uom).toBe("%");
    expect(series.v).toHaveLength(11);
    expect(series.t).toEqual([...series.t].sort((a: number, b: number) => a - b));
    expect(detail.events[0]).toMatchObject({
      type: "log",
      severity: "critical",
      text: "kernel: I/O error, dev sda",
    });
    expect(detail.backups[0]).toMatchObject({
      job: "nightly-db",
      status: "ok",
      size_bytes: 123456789,
    });
    // The overview's state follows the worse of presence (ok) and the score,
    // once the rescoring of the last items has reached the live snapshot.
    await waitFor(
      async () => {
        const now = (await (
          await fetch(`${url}/api/hosts/${encodeURIComponent(agent.jid)}`)
        ).json()) as Record<string, any>;
        const row = (
          (await (await fetch(`${url}/api/hosts?q=db01`)).json()) as Array<Record<string, any>>
        )[0];
        return row?.score === now.score.total && row?.state === now.score.state;
      },
      { timeoutMs: 5000, what: "the overview to show the score" },
    );
  });

  it("lists events and backup reports in /api/events, newest first, filterable by type", async () => {
    const events = (await (
      await fetch(`${url}/api/events?host=${encodeURIComponent(agent.jid)}`)
    ).json()) as Array<{ type: string; time: number }>;
    expect(events.map((e) => e.type).sort()).toEqual(["backup", "log"]);
    const backups = (await (await fetch(`${url}/api/events?type=backup`)).json()) as Array<{
      text: string;
    }>;
    expect(backups).toHaveLength(1);
    expect(backups[0]?.text).toContain("nightly-db ok, 123456789 bytes");
    const bad = await fetch(`${url}/api/events?limit=0`);
    expect(bad.status).toBe(400);
  });

  it("reports processing in /metrics", async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const processed = Number(/jabmon_items_processed_total (\d+)/.exec(text)?.[1]);
    expect(processed).toBe(seq);
    expect(text).toMatch(/jabmon_queue_depth\{queue="ingest"\} \d+/);
    expect(text).toMatch(/jabmon_processing_lag_seconds \d/);
  });

  it("names chart series readably: the check, then its metric (seriesLabel, host.js)", async () => {
    const page = await browser.newPage();
    await page.goto(`${url}/host.html?jid=${encodeURIComponent(agent.jid)}`);
    // [series "check/metric", the host's check names, the chart's name]
    const cases: Array<[string, string[], string]> = [
      ["disk//", ["disk"], "disk /"],
      ["disk//var", ["disk"], "disk /var"],
      ["load/load1", ["load"], "load load1"],
      ["memory/memory_used", ["memory"], "memory used"],
      ["ping/ping", ["ping"], "ping"],
      // The longest check name that prefixes the series wins (a check name may hold a "/").
      ["http/api/latency", ["http", "http/api"], "http/api latency"],
      // A series of no known check: split at its first "/".
      ["swap/free", [], "swap free"],
      ["plain", [], "plain"],
    ];
    const labels = await page.evaluate(
      (all) => {
        // A top-level function of the page's classic script is a global.
        const label = (globalThis as unknown as Record<string, unknown>).seriesLabel as (
          name: string,
          checks: string[],
        ) => string;
        return all.map(([name, checks]) => label(name, checks));
      },
      cases.map(([name, checks]) => [name, checks] as [string, string[]]),
    );
    expect(labels).toEqual(cases.map(([, , label]) => label));
    await page.close();
  });

  it("draws the metric chart and the score breakdown on the host page", async () => {
    const page = await browser.newPage();
    await page.goto(`${url}/host.html?jid=${encodeURIComponent(agent.jid)}`);
    const chart = page.locator('#charts .chart[data-metric="disk_var//var"] canvas');
    await chart.waitFor({ timeout: 5000 });
    const box = await chart.boundingBox();
    expect(box?.width).toBeGreaterThan(100);
    // uPlot drew a line: the canvas is not blank.
    const inked = await chart.evaluate((canvas: HTMLCanvasElement) => {
      const data =
        canvas.getContext("2d")?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(100);
    // The series' readable name (seriesLabel in public/host.js): the check, then its metric.
    expect(await page.textContent('#charts .chart[data-metric="disk_var//var"] .u-title')).toBe(
      "disk_var /var (%)",
    );
    expect(await page.locator("#checks tr").count()).toBe(1);
    expect(await page.textContent("#score")).toMatch(/score \d+ → (ok|warning|critical)/);
    expect(await page.locator("#backups tr").count()).toBe(1);
    await page
      .locator('#backup-chart .chart[data-metric="backup nightly-db"] canvas')
      .waitFor({ timeout: 2000 });
    await page.screenshot({ path: join(ARTIFACTS, "host-detail.png"), fullPage: true });
    await page.close();
  });
});
