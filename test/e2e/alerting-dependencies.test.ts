/**
 * Host dependencies (docs/monitor.md, "Alerting for large fleets"): a parent
 * and 50 children that declare it in their status presence (`depends`), all
 * as real XMPP sessions on a real ejabberd. Killing them all gives exactly one
 * notification, naming the parent and counting 50 unreachable; when the
 * parent recovers, the 3 children still down alert on their own.
 */
import type { Client } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { componentChat } from "../helpers/chat.js";
import { dropConnection, statusSession, waitHostsOnline } from "../helpers/light-agent.js";
import { type Account, useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const CHILDREN = 50;
const stack = useStack("alerting-deps");
let component: RunningComponent;
const messages: Array<{ body: string; at: number }> = [];

beforeAll(async () => {
  const adminAccount = await stack.account("admin");
  component = await stack.startComponent({
    // 51 hosts dying together are most of this small fleet: the plane's mass
    // detector (issue 17) is for fleets, not for this test of dependencies.
    monitor: {
      agentDomains: [stack.domain],
      presenceConfirmMs: 3000,
      plane: { massMinHosts: 1_000_000 },
    },
    alerts: { adminJids: [adminAccount.jid], renotifyMs: 0 },
    alerting: {
      dependencies: { holdMs: 4000, recoveryGraceMs: 6000 },
      group: { intervalMs: 0 },
      hostDownGrace: [{ hosts: "flaky-*", graceMs: 3000 }],
      tickMs: 200,
    },
  });
  await componentChat(stack, adminAccount, (body) => messages.push({ body, at: Date.now() }));
}, 120_000);

describe("dependencies", () => {
  it("sends one alert for a dead parent counting its 50 unreachable children; those still down after its recovery alert on their own", async () => {
    const parentAccount = await stack.account("switch-r12");
    const childAccounts: Account[] = [];
    for (let i = 0; i < CHILDREN; i++)
      childAccounts.push(await stack.account(`rack12-${String(i).padStart(2, "0")}`));
    let parent = await statusSession(stack, parentAccount);
    const children: Client[] = [];
    for (const a of childAccounts) children.push(await statusSession(stack, a, "switch-r12"));
    const childJids = childAccounts.map((a) => a.jid);
    await waitHostsOnline(component, [parentAccount.jid, ...childJids], true, 30_000);

    dropConnection(parent);
    for (const c of children) dropConnection(c);
    await waitHostsOnline(component, [parentAccount.jid, ...childJids], false, 30_000);

    const down = await waitFor(() => messages.find((m) => /switch-r12/.test(m.body)), {
      timeoutMs: 15_000,
      what: "the parent's alert",
    });
    expect(down.body).toMatch(
      /^PROBLEM: host .*switch-r12.* is DOWN: .*50 dependent hosts unreachable/,
    );
    await sleep(3000); // anything else would have come by now (hold 4 s, tick 200 ms)
    expect(messages).toHaveLength(1);
    const held = await component.monitor.gate.held();
    expect(
      held.filter((h) => h.reason === "unreachable" && h.parent === parentAccount.jid),
    ).toHaveLength(CHILDREN);

    // The parent comes back, and 47 of its children; 3 stay down.
    // Together, as a rack does when its switch returns; within the children's
    // recovery grace even when 48 TLS handshakes queue on a loaded machine.
    const back = childAccounts.slice(3);
    [parent] = await Promise.all([
      statusSession(stack, parentAccount),
      ...back.map((a) => statusSession(stack, a, "switch-r12")),
    ]);
    await waitHostsOnline(component, [parentAccount.jid, ...back.map((a) => a.jid)], true, 30_000);
    const stillDown = childAccounts.slice(0, 3).map((a) => a.user);
    await waitFor(
      () => stillDown.every((u) => messages.slice(1).some((m) => m.body.includes(u))) || undefined,
      { timeoutMs: 20_000, what: "alerts for the 3 children still down" },
    );
    await sleep(2000);
    const after = messages.slice(1);
    // The parent's recovery, and problems of the 3: no message names any of the 47.
    expect(after.some((m) => /^RECOVERY: host .*switch-r12/.test(m.body))).toBe(true);
    for (const a of back) expect(after.some((m) => m.body.includes(a.user))).toBe(false);
    const problems = after.filter((m) => m.body.startsWith("PROBLEM"));
    expect(problems.length).toBeGreaterThanOrEqual(1);
    expect(problems.length).toBeLessThanOrEqual(3);
    for (const u of stillDown) expect(problems.some((m) => m.body.includes(u))).toBe(true);
  }, 120_000); // 53 accounts and 100 sessions, each over TLS

  it("holds the down of a host known to flap for its grace: back in time, nothing is sent", async () => {
    const flaky = await stack.account("flaky-01");
    const gone = await stack.account("flaky-02");
    const sessions = [await statusSession(stack, flaky), await statusSession(stack, gone)];
    await waitHostsOnline(component, [flaky.jid, gone.jid], true, 15_000);
    const start = messages.length;
    const killedAt = Date.now();
    for (const s of sessions) dropConnection(s);
    await waitHostsOnline(component, [flaky.jid, gone.jid], false, 15_000);
    await statusSession(stack, flaky); // back within its grace
    await waitHostsOnline(component, [flaky.jid], true, 15_000);
    const down = await waitFor(
      () => messages.slice(start).find((m) => m.body.includes("flaky-02")),
      {
        timeoutMs: 15_000,
        what: "flaky-02's down after its grace",
      },
    );
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(2500);
    expect(down.body).toMatch(/^PROBLEM: host .*flaky-02.* is DOWN/);
    await sleep(1500);
    expect(messages.slice(start).filter((m) => m.body.includes("flaky-01"))).toHaveLength(0);
  });
});
