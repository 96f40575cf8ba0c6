/**
 * Webhook delivery retries by time, not by count: an endpoint that fails for
 * a while gets the alert once it recovers, exactly once; one that never
 * recovers within the retry period gets the alert dead-lettered (a log line
 * and the jabmon_queue_depth{queue="alert_dead_letter"} metric).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { startWebhook, type Webhook } from "../helpers/webhook.js";

let component: RunningComponent;
let webhook: Webhook;
// Registered before the stack, so it runs after the stack's cleanup has stopped the component.
afterAll(() => webhook?.close());
const stack = useStack("webhook-retry");
/** Calls per alert id, and the successful ones. */
const calls = new Map<string, number>();
const received: string[] = [];
const FLAKY_FAILURES = 12;

beforeAll(async () => {
  webhook = await startWebhook((body) => {
    const { alert } = JSON.parse(body) as { alert: { id: string; check: string } };
    const n = (calls.get(alert.id) ?? 0) + 1;
    calls.set(alert.id, n);
    const fail = alert.check === "never" || (alert.check === "flaky" && n <= FLAKY_FAILURES);
    if (!fail) received.push(alert.id);
    return fail ? 503 : 200;
  });
  component = await stack.startComponent({
    alerts: {
      webhookUrl: webhook.url,
      webhookBackoffMs: 20,
      webhookMaxBackoffMs: 100,
      webhookRetryForMs: 6000,
    },
  });
});

const raise = (check: string) =>
  component.monitor.alerts.raise({
    kind: "nagios",
    jid: "web01",
    host: "web01",
    check,
    state: "critical",
    previous: "",
    text: `${check} endpoint`,
  });

describe("webhook retries", () => {
  it("delivers once the endpoint recovers, after more failures than a fixed attempt count allowed, exactly once", async () => {
    const id = await raise("flaky");
    await waitFor(() => received.includes(id), { timeoutMs: 15_000, what: "webhook delivery" });
    expect(calls.get(id)).toBe(FLAKY_FAILURES + 1);
    await sleep(500);
    expect(received.filter((r) => r === id)).toHaveLength(1);
  });

  it("dead-letters an alert the endpoint never accepted within the retry period, and counts it", async () => {
    const id = await raise("never");
    await waitFor(async () => (await component.monitor.deliveryDepths()).alert_dead_letter >= 1, {
      timeoutMs: 20_000,
      what: "dead letter",
    });
    expect(received).not.toContain(id);
    expect(calls.get(id)).toBeGreaterThan(3);
    const metrics = await (await fetch(`${component.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/jabmon_queue_depth\{queue="alert_dead_letter"\} 1/);
  });
});
