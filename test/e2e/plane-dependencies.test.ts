/**
 * A dead parent is a network fault, not the monitoring plane's
 * (src/monitor/hosts/plane.ts, docs/monitor.md "Plane events"): with the
 * plane's default settings (mass: more than 20 % of at least 10 hosts down
 * within 10 s), a switch and the 15 of the fleet's 20 hosts that declare it
 * dying together give the parent's one notification, counting the 15
 * unreachable, and no "monitoring degraded" alert (the mass detector does
 * not count hosts whose declared parent is down). The same when the children's
 * sessions drop clearly before the parent's: the outcome does not depend on the
 * order in which the downs are recorded.
 */
import type { Client } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { componentChat } from "../helpers/chat.js";
import { dropConnection, statusSession, waitHostsOnline } from "../helpers/light-agent.js";
import { type Account, useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const CHILDREN = 15;
const OTHERS = 4;
const stack = useStack("plane-deps");
let component: RunningComponent;
const messages: Array<{ body: string; at: number }> = [];

/** A parent and its children (declaring it) and some other hosts, all online. */
async function fleet(parentName: string, childPrefix: string, othersPrefix: string) {
  const parentAccount = await stack.account(parentName);
  const childAccounts: Account[] = [];
  for (let i = 0; i < CHILDREN; i++)
    childAccounts.push(await stack.account(`${childPrefix}-${String(i).padStart(2, "0")}`));
  const otherAccounts: Account[] = [];
  for (let i = 0; i < OTHERS; i++) otherAccounts.push(await stack.account(`${othersPrefix}-${i}`));
  const parent = await statusSession(stack, parentAccount);
  const children: Client[] = [];
  for (const a of childAccounts) children.push(await statusSession(stack, a, parentName));
  for (const a of otherAccounts) await statusSession(stack, a);
  const childJids = childAccounts.map((a) => a.jid);
  await waitHostsOnline(
    component,
    [parentAccount.jid, ...childJids, ...otherAccounts.map((a) => a.jid)],
    true,
    30_000,
  );
  await sleep(1000); // the last presences' dependencies recorded
  return { parent, parentJid: parentAccount.jid, children, childJids };
}

beforeAll(async () => {
  const adminAccount = await stack.account("admin");
  component = await stack.startComponent({
    // monitor.plane left at its defaults: this is what trips the mass detector.
    monitor: { agentDomains: [stack.domain], presenceConfirmMs: 3000 },
    alerts: { adminJids: [adminAccount.jid], renotifyMs: 0 },
    alerting: { dependencies: { holdMs: 4000 }, group: { intervalMs: 0 }, tickMs: 200 },
  });
  await componentChat(stack, adminAccount, (body) => messages.push({ body, at: Date.now() }));
}, 120_000);

describe("plane and dependencies", () => {
  it("a dead parent with most of the fleet behind it gives the parent's one notification, no plane incident", async () => {
    const { parent, parentJid, children, childJids } = await fleet("switch-p1", "rackp", "solo");
    const start = messages.length;

    // The parent first, as its children lose their way out through it.
    dropConnection(parent);
    for (const c of children) dropConnection(c);
    await waitHostsOnline(component, [parentJid, ...childJids], false, 30_000);

    await expectOneParentNotification(start, "switch-p1");
  }, 120_000);

  it("gives the same one notification when the children are recorded down seconds before the parent", async () => {
    const { parent, parentJid, children, childJids } = await fleet("switch-p2", "rackq", "lone");
    const start = messages.length;

    // The children's sessions end first (their uplinks die before the
    // switch's own session notices), and are recorded down: the plane's mass
    // detector runs every second, so it sees them while the parent is up.
    for (const c of children) dropConnection(c);
    await waitHostsOnline(component, childJids, false, 30_000);
    await sleep(1500);
    dropConnection(parent);
    await waitHostsOnline(component, [parentJid], false, 30_000);

    await expectOneParentNotification(start, "switch-p2");
  }, 120_000);
});

/** Since `start`: the parent's one notification counting its children, and nothing else. */
async function expectOneParentNotification(start: number, parentName: string): Promise<void> {
  // The plane holds every down for its mass window (10 s), then the gate for holdMs.
  // A plane incident instead (its degraded alert) ends the wait, as the failure it is.
  const down = await waitFor(
    () =>
      messages
        .slice(start)
        .find((m) => m.body.includes(parentName) || /monitoring degraded/i.test(m.body)),
    { timeoutMs: 40_000, what: "the parent's alert" },
  );
  expect(down.body).toMatch(
    new RegExp(
      `^PROBLEM: host .*${parentName}.* is DOWN: .*${CHILDREN} dependent hosts unreachable`,
    ),
  );
  await sleep(3000); // anything else would have come by now (hold 4 s, tick 200 ms)
  expect(messages.slice(start).map((m) => m.body)).toEqual([down.body]);
}
