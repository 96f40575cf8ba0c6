/**
 * Freshness (docs/monitor.md, "Alerting for large fleets"): a check whose
 * results carry `jabmon.freshness` and that stops reporting becomes
 * `unknown (stale result)` and alerts; its next result brings it back. The
 * host's derived state (docs/monitor.md, "Host status") follows in every view.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import type { Redis } from "../../src/store/index.js";
import { componentChat } from "../helpers/chat.js";
import { checkXml, publishEntry } from "../helpers/ingest.js";
import { useStack, waitForHost } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const stack = useStack("alerting-freshness");
let component: RunningComponent;
let redis: Redis;
let url: string;
const messages: string[] = [];

beforeAll(async () => {
  const adminAccount = await stack.account("admin");
  component = await stack.startComponent({
    alerts: { adminJids: [adminAccount.jid], renotifyMs: 0 },
    alerting: { tickMs: 200 },
  });
  url = component.httpUrl as string;
  redis = stack.redis();
  await componentChat(stack, adminAccount, (body) => messages.push(body));
});

const withFreshness = (xmlText: string, seconds: number) =>
  xmlText.replace("</check>", `<label name="jabmon.freshness" value="${seconds}"/></check>`);

/** GET /api/stream, read in the background: the host records of its `hosts` events so far. */
function liveStream() {
  const abort = new AbortController();
  let text = "";
  void fetch(`${url}/api/stream`, { signal: abort.signal })
    .then(async (response) => {
      const decoder = new TextDecoder();
      for await (const chunk of response.body as AsyncIterable<Uint8Array>)
        text += decoder.decode(chunk, { stream: true });
    })
    .catch(() => {});
  return {
    hosts: () =>
      [...text.matchAll(/^event: hosts\ndata: (.*)$/gm)].flatMap(
        (m) => JSON.parse(m[1] as string) as Array<{ jid: string; state: string }>,
      ),
    close: () => abort.abort(),
  };
}

describe("freshness", () => {
  it("marks a check that stopped reporting unknown (stale result) and alerts, then recovers on its next result", async () => {
    const jid = "fresh01@localhost";
    await publishEntry(
      redis,
      stack.prefix,
      jid,
      1,
      withFreshness(checkXml(1, "backup_age", "ok"), 2),
    );
    // A check without the label never goes stale.
    await publishEntry(redis, stack.prefix, jid, 2, checkXml(2, "load", "ok"));
    const stale = await waitFor(() => messages.find((m) => m.includes(jid)), {
      timeoutMs: 10_000,
      what: "the stale-result alert",
    });
    expect(stale).toMatch(/^PROBLEM: .*check backup_age is UNKNOWN \(was ok\): stale result/);
    const detail = await component.monitor.status.hostDetail(jid);
    expect(detail?.checks.find((c) => c.name === "backup_age")).toMatchObject({
      state: "unknown",
    });
    expect(detail?.checks.find((c) => c.name === "load")?.state).toBe("ok");
    await sleep(1000);
    expect(messages.filter((m) => m.includes(jid))).toHaveLength(1);

    await publishEntry(
      redis,
      stack.prefix,
      jid,
      3,
      withFreshness(checkXml(3, "backup_age", "ok"), 60),
    );
    await waitFor(() => messages.find((m) => m.includes(jid) && /^RECOVERY/.test(m)), {
      timeoutMs: 10_000,
      what: "the recovery",
    });
  });

  it("makes the host unknown in every view while a check is stale, and ok again on its next result", async () => {
    const jid = "fresh02@localhost";
    const getJson = async (path: string) => (await fetch(`${url}${path}`)).json();
    const jidsIn = async (state: string) =>
      ((await getJson(`/api/hosts?state=${state}`)) as Array<{ jid: string }>).map((h) => h.jid);
    // An online host whose agent's presence says ok: only the monitor knows a check went stale.
    await component.hosts.recordPresence(jid, `${jid}/agent`, { host: "fresh02", state: "ok" });
    await publishEntry(
      redis,
      stack.prefix,
      jid,
      1,
      withFreshness(checkXml(1, "backup_age", "ok"), 2),
    );
    await publishEntry(redis, stack.prefix, jid, 2, checkXml(2, "load", "ok"));
    await waitForHost(url, jid, (h) => h.state === "ok" && h.checks === 2, 10_000);
    expect(await jidsIn("ok")).toEqual([jid]);
    const live = liveStream();

    // Within the host index's own reload (30 s): the stale path publishes the change.
    const stale = (await waitForHost(url, jid, (h) => h.state === "unknown", 10_000)) as Record<
      string,
      unknown
    >;
    expect(stale).toMatchObject({
      summary: "1 of 2 checks unknown: backup_age",
      checks: 2,
      failing: 1,
    });
    expect(await jidsIn("unknown")).toEqual([jid]);
    expect(await jidsIn("ok")).toEqual([]);
    expect(await getJson("/api/summary")).toMatchObject({ unknown: 1, ok: 0 });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain(`jabmon_host_state{jid="${jid}",host="fresh02"} 3`);
    expect(metrics).toMatch(/^jabmon_hosts\{state="unknown"\} 1$/m);
    // The live page hears of it as of any host change (a `hosts` event).
    await waitFor(() => live.hosts().some((h) => h.jid === jid && h.state === "unknown"), {
      timeoutMs: 5000,
      what: "the SSE hosts event of the stale host",
    });
    live.close();

    await publishEntry(
      redis,
      stack.prefix,
      jid,
      3,
      withFreshness(checkXml(3, "backup_age", "ok"), 60),
    );
    await waitForHost(url, jid, (h) => h.state === "ok" && h.summary === "all 2 checks ok", 10_000);
    expect(await jidsIn("unknown")).toEqual([]);
    expect(await getJson("/api/summary")).toMatchObject({ unknown: 0, ok: 1 });
  }, 30_000);
});
