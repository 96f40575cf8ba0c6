/**
 * Re-notification of problems that stay unacknowledged (alerts.renotifyMs),
 * with a real ejabberd, agents and Redis, and a short interval.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import { ProblemIndex } from "../../src/monitor/alerts/problems.js";
import { Renotifier } from "../../src/monitor/alerts/renotify.js";
import { type AlertRecord, problemKey } from "../../src/monitor/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { Keys, type Redis } from "../../src/store/index.js";
import { componentChat } from "../helpers/chat.js";
import { type Account, useStack, waitForHost } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const RENOTIFY_MS = 1000;

const stack = useStack("alerts-renotify");
let component: RunningComponent;
let redis: Redis;
const messages: Array<{ body: string; at: number }> = [];

beforeAll(async () => {
  const adminAccount = await stack.account("admin");
  component = await stack.startComponent({
    alerts: { adminJids: [adminAccount.jid], renotifyMs: RENOTIFY_MS },
  });
  redis = stack.redis();
  await componentChat(stack, adminAccount, (body) => messages.push({ body, at: Date.now() }));
});

const about = (user: string, pattern: RegExp) =>
  messages.filter((m) => m.body.includes(`${user}@localhost`) && pattern.test(m.body));
const REMINDER = /^REMINDER: PROBLEM: host .* is DOWN: went offline \(unacknowledged since /;

/** The host-down problem of `jid` as alerts.list sees it, and its next reminder's due time. */
async function hostProblem(jid: string) {
  const key = problemKey({ jid, kind: "host", check: "" });
  const listed = (await component.monitor.problems.list()).find((p) => p.key === key);
  const due = await redis.zscore(new Keys(stack.prefix).renotifySchedule(), key);
  return { listed, due };
}

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
    // Still an open problem (alerts.list shows it), only no longer scheduled.
    const { listed, due } = await hostProblem(account.jid);
    expect(listed).toMatchObject({ acknowledged: true, alert: { state: "down" } });
    expect(listed?.reminders).toBeGreaterThanOrEqual(2);
    expect(due).toBeNull();
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
    expect(await hostProblem(account.jid)).toEqual({ listed: undefined, due: null });
  });

  it("does not re-notify a silenced problem, and does once the silence is over", async () => {
    const account = await stack.account("renot03");
    const silence = await component.monitor.alerts.addSilence({
      host: "renot03*",
      durationMs: 60_000,
    });
    await downAgent(account);
    await waitFor(
      async () =>
        (await component.monitor.alerts.recent(50)).find(
          (a) => a.jid === account.jid && a.renotify === 2 && a.suppressed === "silenced",
        ),
      { timeoutMs: 5 * RENOTIFY_MS, what: "two silenced reminders in the alert log" },
    );
    expect(about("renot03", /./)).toHaveLength(0);
    expect((await hostProblem(account.jid)).listed).toMatchObject({ acknowledged: false });

    await component.monitor.alerts.removeSilence(silence.id);
    await waitFor(() => about("renot03", REMINDER)[0], {
      timeoutMs: 4 * RENOTIFY_MS,
      what: "a reminder after the silence",
    });
  });
});

describe("the re-notification schedule in Redis", () => {
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
  let n = 0;
  /** An open-problem index and two instances' renotifiers on a fresh prefix. */
  function fleet() {
    const keys = new Keys(`${stack.prefix}solo${++n}:`);
    const make = () =>
      new Renotifier({ redis, keys, log: silentLogger(), intervalMs: 60_000, outboxMax: 1000 });
    const problems = new ProblemIndex({ redis, keys, renotifyMs: 60_000 });
    const outbox = async () =>
      ((await redis.xrange(keys.alertOutbox(), "-", "+")) as Array<[string, string[]]>).map(
        ([, fields]) => {
          const map = new Map<string, string>();
          for (let i = 0; i + 1 < fields.length; i += 2)
            map.set(fields[i] as string, fields[i + 1] as string);
          return map;
        },
      );
    return { keys, problems, a: make(), b: make(), outbox };
  }
  const due = () => Date.now() + 61_000;

  it("writes each due reminder once however many instances tick", async () => {
    const { problems, a, b, outbox } = fleet();
    await problems.record({ ...alert, num: 7 }, { acknowledged: false });
    const at = due();
    const written = await Promise.all([a.tick(at), b.tick(at), a.tick(at + 1), b.tick(at)]);
    expect(written.reduce((x, y) => x + y, 0)).toBe(1);
    const reminders = await outbox();
    expect(reminders).toHaveLength(1);
    const get = (name: string) => reminders[0]?.get(name);
    expect([get("id"), get("renotify"), get("since"), get("check"), get("num")]).toEqual([
      "a1-r1",
      "1",
      "1000",
      "disk",
      undefined,
    ]);
    expect((await problems.list())[0]).toMatchObject({ reminders: 1, acknowledged: false });
  });

  it("a reminder's own dispatch keeps the count going; a new state starts it again", async () => {
    const { problems, a, outbox } = fleet();
    await problems.record(alert, { acknowledged: false });
    await a.tick(due());
    await problems.record(
      { ...alert, id: "a1-r1", renotify: 1, since: 1000, time: 2000 },
      {
        acknowledged: false,
      },
    );
    await a.tick(due() + 60_000);
    await problems.record(
      { ...alert, id: "a3", state: "warning", time: 3000 },
      {
        acknowledged: false,
      },
    );
    expect((await problems.list())[0]).toMatchObject({
      since: 1000,
      reminders: 0,
      alert: { id: "a3" },
    });
    await a.tick(due());
    expect((await outbox()).map((m) => m.get("id"))).toEqual(["a1-r1", "a1-r2", "a3-r1"]);
  });

  it("an acknowledged problem stays listed but is not re-notified", async () => {
    const { keys, problems, a, b, outbox } = fleet();
    await problems.record(alert, { acknowledged: false });
    expect(await problems.acknowledge("SOLO@localhost", "disk")).toBe(1);
    expect(await a.tick(due())).toBe(0);
    // Acknowledged when it is raised: never scheduled at all.
    const other = { ...alert, id: "b1", check: "load" };
    await problems.record(other, { acknowledged: true });
    expect(await b.tick(due())).toBe(0);
    expect(await outbox()).toHaveLength(0);
    expect(await redis.zcard(keys.renotifySchedule())).toBe(0);
    const listed = await problems.list();
    expect(listed.map((p) => [p.alert.check, p.acknowledged]).sort()).toEqual([
      ["disk", true],
      ["load", true],
    ]);
  });

  it("a recovery, or a reminder found resolved, closes both the listing and the schedule", async () => {
    const { keys, problems, a } = fleet();
    await problems.record(alert, { acknowledged: false });
    await problems.record({ ...alert, id: "h1", kind: "host", check: "" }, { acknowledged: false });
    expect(await redis.zcard(keys.renotifySchedule())).toBe(2);
    await problems.record(
      { ...alert, id: "a2", state: "ok", previous: "critical" },
      {
        acknowledged: false,
      },
    );
    await problems.record(
      { ...alert, id: "h1-r1", kind: "host", check: "", renotify: 1 },
      {
        acknowledged: false,
        resolved: true,
      },
    );
    expect(await problems.list()).toEqual([]);
    expect(await redis.zcard(keys.renotifySchedule())).toBe(0);
    expect(await a.tick(due() + 120_000)).toBe(0);
  });

  it("lists flapping under its check's problem, and does not re-notify Nagios problems", async () => {
    const { problems, a } = fleet();
    await problems.record(alert, { acknowledged: false });
    await problems.record(
      { ...alert, id: "f1", kind: "flapping", state: "start" },
      {
        acknowledged: false,
      },
    );
    await problems.record(
      { ...alert, id: "n1", kind: "nagios", jid: "legacy" },
      {
        acknowledged: false,
      },
    );
    const listed = await problems.list();
    expect(listed.map((p) => p.alert.id).sort()).toEqual(["f1", "n1"]);
    // The check's reminder still repeats its check alert, not the flapping one.
    expect(await a.tick(due())).toBe(1);
  });
});
