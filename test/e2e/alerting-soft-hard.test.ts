/**
 * Soft and hard check states (docs/monitor.md, "Alerting for large fleets"):
 * with attempts = 3, a check bad twice never alerts; bad three times alerts
 * once. And a real agent reruns a soft check at its retry interval.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import type { Redis } from "../../src/store/index.js";
import { componentChat } from "../helpers/chat.js";
import { checkXml, publishEntry } from "../helpers/ingest.js";
import { useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const stack = useStack("alerting-softhard");
let component: RunningComponent;
let redis: Redis;
const messages: Array<{ body: string; at: number }> = [];

beforeAll(async () => {
  const adminAccount = await stack.account("admin");
  component = await stack.startComponent({
    monitor: { checkAttempts: 3 },
    alerts: { adminJids: [adminAccount.jid], renotifyMs: 0 },
  });
  redis = stack.redis();
  await componentChat(stack, adminAccount, (body) => messages.push({ body, at: Date.now() }));
});

const about = (who: string, pattern: RegExp) =>
  messages.filter((m) => m.body.includes(who) && pattern.test(m.body));

async function checkOf(jid: string, name: string, seq: number) {
  return waitFor(
    async () => {
      const detail = await component.monitor.status.hostDetail(jid);
      const check = detail?.checks.find((c) => c.name === name);
      return check && check.lastSeq === seq ? check : undefined;
    },
    { timeoutMs: 10_000, what: `check ${name} of ${jid} at seq ${seq}` },
  );
}

describe("soft and hard states", () => {
  it("does not alert on a check bad twice with attempts=3, and alerts once when bad three times", async () => {
    const jid = "soft01@localhost";
    let seq = 0;
    const publish = async (state: string) => {
      seq += 1;
      await publishEntry(redis, stack.prefix, jid, seq, checkXml(seq, "http", state));
      return checkOf(jid, "http", seq);
    };
    const first = await publish("critical");
    expect(first).toMatchObject({
      state: "critical",
      stateType: "soft",
      attempt: 1,
      maxAttempts: 3,
    });
    expect(await publish("critical")).toMatchObject({ stateType: "soft", attempt: 2 });
    expect(await publish("ok")).toMatchObject({ stateType: "hard", attempt: 0 });
    // Twice bad, then ok: neither a problem nor a recovery was sent.
    await sleep(1500);
    expect(about(jid, /check http/)).toHaveLength(0);

    await publish("critical");
    await publish("critical");
    expect(await publish("critical")).toMatchObject({ stateType: "hard", attempt: 3 });
    await waitFor(() => about(jid, /^PROBLEM: .* check http is CRITICAL/)[0], {
      timeoutMs: 5000,
      what: "the hard problem alert",
    });
    await publish("critical"); // still hard critical: no new alert
    await publish("ok");
    await waitFor(() => about(jid, /^RECOVERY: .* check http is OK/)[0], {
      timeoutMs: 5000,
      what: "the recovery",
    });
    expect(about(jid, /^PROBLEM: .* check http/)).toHaveLength(1);
    expect(about(jid, /^RECOVERY: .* check http/)).toHaveLength(1);
  });

  it("counts a soft problem toward the host's state at once, though it does not alert yet", async () => {
    // docs/monitor.md, "Host status" rule 2: every current check state counts, soft or hard.
    const jid = "soft04@localhost";
    await component.hosts.recordPresence(jid, `${jid}/agent`, { host: "soft04", state: "ok" });
    await publishEntry(redis, stack.prefix, jid, 1, checkXml(1, "http", "critical"));
    expect(await checkOf(jid, "http", 1)).toMatchObject({ stateType: "soft", attempt: 1 });
    expect(await component.hosts.get(jid)).toMatchObject({
      state: "critical",
      summary: "1 of 1 check critical: http",
    });
    await sleep(1000);
    expect(about(jid, /check http/)).toHaveLength(0);
  });

  it("takes a check's own attempts from its jabmon.attempts label", async () => {
    const jid = "soft02@localhost";
    const payload = (seq: number) =>
      checkXml(seq, "db", "warning").replace(
        "</check>",
        '<label name="jabmon.attempts" value="1"/></check>',
      );
    await publishEntry(redis, stack.prefix, jid, 1, payload(1));
    expect(await checkOf(jid, "db", 1)).toMatchObject({ stateType: "hard", maxAttempts: 1 });
    await waitFor(() => about(jid, /^PROBLEM: .* check db is WARNING/)[0], {
      timeoutMs: 5000,
      what: "an alert on the first bad result",
    });
  });

  it("has a real agent rerun a soft check at its retry interval until it is hard", async () => {
    const account = await stack.account("soft03");
    const config = join(stack.agentDir(account), "agent.yml");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(stack.agentDir(account), { recursive: true });
    // Interval 1 h: without the retry interval the second run would come an hour later.
    writeFileSync(
      config,
      [
        "checks:",
        "  - type: nagios",
        "    name: always_critical",
        "    command: /bin/sh",
        '    args: ["-c", "echo CRITICAL - broken; exit 2"]',
        "    interval: 3600",
        "    retryInterval: 0.5",
        "    attempts: 3",
        "",
      ].join("\n"),
    );
    const started = Date.now();
    stack.spawnAgent(account, { JABMON_AGENT_CONFIG: config });
    const check = await waitFor(
      async () => {
        const detail = await component.monitor.status.hostDetail(account.jid);
        const c = detail?.checks.find((x) => x.name === "always_critical");
        return c?.stateType === "hard" ? c : undefined;
      },
      { timeoutMs: 30_000, what: "the check to turn hard" },
    );
    expect(check).toMatchObject({ state: "critical", attempt: 3, maxAttempts: 3 });
    await waitFor(() => about(account.jid, /^PROBLEM: .* check always_critical is CRITICAL/)[0], {
      timeoutMs: 5000,
      what: "the hard alert",
    });
    expect(Date.now() - started).toBeLessThan(60_000);
    // Hard now: back to the normal interval, so no further runs for a while.
    const seq = check.lastSeq;
    await sleep(2000);
    const later = await component.monitor.status.hostDetail(account.jid);
    expect(later?.checks.find((x) => x.name === "always_critical")?.lastSeq).toBe(seq);
    expect(about(account.jid, /check always_critical/)).toHaveLength(1);
  });
});
