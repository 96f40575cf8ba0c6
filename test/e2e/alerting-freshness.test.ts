/**
 * Freshness (docs/monitor.md, "Alerting for large fleets"): a check whose
 * results carry `jabmon.freshness` and that stops reporting becomes
 * `unknown (stale result)` and alerts; its next result brings it back.
 */
import type { Client } from "@xmpp/client";
import { xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { createRedis, type Redis } from "../../src/store/index.js";
import { checkXml, publishEntry } from "../helpers/ingest.js";
import { REDIS_URL, TestStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

let stack: TestStack;
let component: RunningComponent;
let redis: Redis;
let admin: Client;
const messages: string[] = [];

beforeAll(async () => {
  stack = await TestStack.start("alerting-freshness");
  const adminAccount = await stack.account("admin");
  component = await stack.startComponent({
    alerts: { adminJids: [adminAccount.jid], renotifyMs: 0 },
    alerting: { tickMs: 200 },
  });
  redis = createRedis(REDIS_URL, silentLogger());
  admin = await stack.client(adminAccount);
  await admin.send(xml("presence"));
  admin.on("stanza", (stanza) => {
    if (stanza.is("message") && stanza.attrs.from === stack.componentJid) {
      const body = stanza.getChildText("body");
      if (body) messages.push(body);
    }
  });
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.cleanup();
});

const withFreshness = (xmlText: string, seconds: number) =>
  xmlText.replace("</check>", `<label name="jabmon.freshness" value="${seconds}"/></check>`);

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
});
