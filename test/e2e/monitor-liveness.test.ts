import type { Client } from "@xmpp/client";
import { xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { check, errorOf, iq, publishIq } from "../helpers/pubsub.js";
import { type Account, useStack, waitForHost } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";
import { startWebhook, type Webhook } from "../helpers/webhook.js";

let component: RunningComponent;
let webhook: Webhook;
// Registered before the stack, so it runs after the stack's cleanup has stopped the component.
afterAll(() => webhook?.close());
const stack = useStack("liveness");
const hooks: Array<{ alert: { kind: string; jid: string; state: string }; message: string }> = [];
let hookCalls = 0;

beforeAll(async () => {
  // Fails twice, then accepts: the alert must arrive through BullMQ's retries.
  webhook = await startWebhook((body) => {
    hookCalls++;
    if (hookCalls <= 2) return 503;
    hooks.push(JSON.parse(body));
    return 200;
  });
  component = await stack.startComponent({
    monitor: { agentDomains: [stack.domain], presenceConfirmMs: 3000, staleMs: 1500 },
    alerts: { webhookUrl: webhook.url, webhookBackoffMs: 200 },
  });
});

async function online(account: Account): Promise<Client> {
  const client = await stack.client(account);
  await client.send(xml("presence", { to: stack.componentJid }, xml("status", {}, "here")));
  await waitForHost(component.httpUrl as string, account.jid, (h) => h.online === true, 5000);
  return client;
}

describe("stale hosts", () => {
  it("marks a host silent for longer than staleMs down as 'stale', and recovers it on presence", async () => {
    const account = await stack.account("silent01");
    const client = await online(account);
    const down = await waitForHost(
      component.httpUrl as string,
      account.jid,
      (h) => h.online === false,
      5000,
    );
    expect(down.offlineReason).toBe("stale");
    // The alert also reaches the webhook, after two failed attempts.
    const hook = await waitFor(
      () => hooks.find((h) => h.alert.jid === account.jid && h.alert.state === "down"),
      { timeoutMs: 10_000, what: "webhook call" },
    );
    expect(hook.message).toMatch(/is DOWN: stale/);
    expect(hookCalls).toBeGreaterThanOrEqual(3);

    await client.send(xml("presence", { to: stack.componentJid }, xml("status", {}, "back")));
    await waitFor(() => hooks.find((h) => h.alert.jid === account.jid && h.alert.state === "up"), {
      timeoutMs: 10_000,
      what: "recovery webhook",
    });
    const alerts = (await component.monitor.alerts.recent(50)).filter((a) => a.jid === account.jid);
    expect(alerts.map((a) => a.state)).toEqual(["up", "down"]);
  });

  it("brings a stale host back when data arrives from it", async () => {
    const account = await stack.account("silent02");
    const client = await online(account);
    await waitForHost(component.httpUrl as string, account.jid, (h) => h.online === false, 5000);
    const reply = await iq(
      client,
      stack.componentJid,
      "set",
      publishIq(`agents/${account.jid}`, check(1, { name: "load", state: "ok" })),
    );
    expect(errorOf(reply)).toBeUndefined();
    await waitForHost(component.httpUrl as string, account.jid, (h) => h.online === true, 5000);
    await waitFor(
      async () =>
        (await component.monitor.alerts.recent(50)).find(
          (a) => a.jid === account.jid && a.state === "up",
        ),
      { timeoutMs: 5000, what: "recovery alert" },
    );
  });
});
