/**
 * Re-notification of problems that stay unacknowledged (alerts.renotifyMs),
 * with a real ejabberd, agents and Redis, and a short interval.
 */
import type { Client } from "@xmpp/client";
import { xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import { type AlertRecord, Renotifier } from "../../src/monitor/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { createRedis, Keys, type Redis } from "../../src/store/index.js";
import { type Account, REDIS_URL, TestStack, waitForHost } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const RENOTIFY_MS = 1000;

let stack: TestStack;
let component: RunningComponent;
let redis: Redis;
let admin: Client;
const messages: Array<{ body: string; at: number }> = [];

beforeAll(async () => {
  stack = await TestStack.start("alerts-renotify");
  const adminAccount = await stack.account("admin");
  component = await stack.startComponent({
    alerts: { adminJids: [adminAccount.jid], renotifyMs: RENOTIFY_MS },
  });
  redis = createRedis(REDIS_URL, silentLogger());
  admin = await stack.client(adminAccount);
  await admin.send(xml("presence"));
  admin.on("stanza", (stanza) => {
    if (stanza.is("message") && stanza.attrs.from === stack.componentJid) {
      const body = stanza.getChildText("body");
      if (body) messages.push({ body, at: Date.now() });
    }
  });
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.cleanup();
});

const about = (user: string, pattern: RegExp) =>
  messages.filter((m) => m.body.includes(`${user}@localhost`) && pattern.test(m.body));
const REMINDER = /^REMINDER: PROBLEM: host .* is DOWN: went offline \(unacknowledged since /;

async function downAgent(account: Account) {
  const agent = stack.spawnAgent(account);
  await waitForHost(component.httpUrl as string, account.jid, (h) => h.online === true, 15_000);
  agent.kill("SIGKILL");
}

describe("re-notification", () => {
  it("repeats an unacknowledged 'host down' every interval, and stops after an ack", async () => {
    const account = await stack.account("renot01");
    await downAgent(account);
    await waitFor(() => about("renot01", /^PROBLEM: host .* is DOWN/)[0], {
      timeoutMs: 3000,
      what: "the first down message",
    });
    const reminders = await waitFor(
      () => {
        const r = about("renot01", REMINDER);
        return r.length >= 2 ? r : undefined;
      },
      { timeoutMs: 5 * RENOTIFY_MS, what: "two reminders" },
    );
    // One interval apart (the scheduler ticks every interval/4).
    const gap = (reminders[1]?.at ?? 0) - (reminders[0]?.at ?? 0);
    expect(gap).toBeGreaterThan(RENOTIFY_MS * 0.6);
    expect(about("renot01", /^PROBLEM: host .* is DOWN/)).toHaveLength(1);

    await component.monitor.alerts.acknowledge(account.jid, "", "tester", "on it");
    const countAtAck = about("renot01", REMINDER).length;
    await sleep(3 * RENOTIFY_MS);
    // At most one reminder may have been in flight when the ack landed.
    expect(about("renot01", REMINDER).length).toBeLessThanOrEqual(countAtAck + 1);
    const settled = about("renot01", REMINDER).length;
    await sleep(2 * RENOTIFY_MS);
    expect(about("renot01", REMINDER)).toHaveLength(settled);
    expect(
      await redis.hexists(new Keys(stack.prefix).alertProblems(), `host|${account.jid}|`),
    ).toBe(0);
  });

  it("stops re-notifying when the host recovers", async () => {
    const account = await stack.account("renot02");
    await downAgent(account);
    await waitFor(() => about("renot02", REMINDER)[0], {
      timeoutMs: 4 * RENOTIFY_MS,
      what: "a reminder",
    });
    stack.spawnAgent(account);
    const recovery = await waitFor(() => about("renot02", /^RECOVERY: host .* is UP/)[0], {
      timeoutMs: 15_000,
      what: "recovery",
    });
    await sleep(3 * RENOTIFY_MS);
    expect(about("renot02", REMINDER).filter((m) => m.at > recovery.at)).toHaveLength(0);
  });

  it("does not re-notify a silenced problem", async () => {
    const account = await stack.account("renot03");
    await component.monitor.alerts.addSilence({ host: "renot03*", durationMs: 60_000 });
    await downAgent(account);
    await waitFor(
      async () =>
        (await component.monitor.alerts.recent(50)).find(
          (a) => a.jid === account.jid && a.renotify === 2 && a.suppressed === "silenced",
        ),
      { timeoutMs: 5 * RENOTIFY_MS, what: "two silenced reminders in the alert log" },
    );
    expect(about("renot03", /./)).toHaveLength(0);
  });
});

describe("the re-notification schedule in Redis", () => {
  it("writes each due reminder once however many instances tick", async () => {
    const keys = new Keys(`${stack.prefix}solo:`);
    const make = () =>
      new Renotifier({ redis, keys, log: silentLogger(), intervalMs: 60_000, outboxMax: 1000 });
    const a = make();
    const b = make();
    const alert: AlertRecord = {
      id: "a1",
      kind: "check",
      jid: "solo@localhost",
      host: "solo",
      check: "disk",
      state: "critical",
      previous: "ok",
      text: "disk full",
      time: 1000,
    };
    await a.track(alert, false);
    const due = Date.now() + 61_000;
    const written = await Promise.all([a.tick(due), b.tick(due), a.tick(due + 1), b.tick(due)]);
    expect(written.reduce((x, y) => x + y, 0)).toBe(1);
    const outbox = (await redis.xrange(keys.alertOutbox(), "-", "+")) as Array<[string, string[]]>;
    expect(outbox).toHaveLength(1);
    const fields = outbox[0]?.[1] ?? [];
    const map = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2)
      map.set(fields[i] as string, fields[i + 1] as string);
    const get = (name: string) => map.get(name);
    expect([get("id"), get("renotify"), get("since"), get("check")]).toEqual([
      "a1-r1",
      "1",
      "1000",
      "disk",
    ]);
    // A recovery closes the problem: nothing more is due.
    await a.track({ ...alert, id: "a2", state: "ok", previous: "critical" }, false);
    expect(await a.tick(due + 120_000)).toBe(0);
  });
});
