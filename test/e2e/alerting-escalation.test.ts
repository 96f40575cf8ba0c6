/**
 * Routing and escalation (docs/monitor.md, "Alerting for large fleets"): the
 * routing tree sends a critical to the on-call JID; unacknowledged after the
 * step's delay it reaches step 2 (the team); an acknowledged one does not.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import type { Redis } from "../../src/store/index.js";
import { componentChat } from "../helpers/chat.js";
import { checkXml, publishEntry } from "../helpers/ingest.js";
import { useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const STEP_MS = 2000;
const stack = useStack("alerting-escalation");
let component: RunningComponent;
let redis: Redis;
const inbox: Record<"oncall" | "team" | "dba", string[]> = { oncall: [], team: [], dba: [] };

async function listen(who: keyof typeof inbox): Promise<string> {
  const account = await stack.account(`${who}-person`);
  await componentChat(stack, account, (body) => inbox[who].push(body));
  return account.jid;
}

beforeAll(async () => {
  const oncall = await listen("oncall");
  const team = await listen("team");
  const dba = await listen("dba");
  component = await stack.startComponent({
    alerts: { renotifyMs: 0 },
    alerting: {
      receivers: [
        { name: "oncall", jids: [oncall] },
        { name: "team", jids: [team] },
        { name: "dba", jids: [dba] },
      ],
      route: {
        receiver: "oncall",
        escalate: [{ afterMs: STEP_MS, receiver: "team" }],
        routes: [{ match: { check: "postgres*" }, receiver: "dba" }],
      },
      // A storm arrives as a group: its members' escalations fall due together.
      group: { waitMs: 1000, intervalMs: 0 },
      tickMs: 200,
    },
  });
  redis = stack.redis();
});

describe("routing and escalation", () => {
  it("escalates an unacknowledged critical to step 2 after its delay, and not an acknowledged one", async () => {
    await publishEntry(redis, stack.prefix, "esc01@localhost", 1, checkXml(1, "db", "critical"));
    await publishEntry(redis, stack.prefix, "esc02@localhost", 1, checkXml(1, "db", "critical"));
    await waitFor(
      () =>
        (inbox.oncall.some((m) => m.includes("esc01")) &&
          inbox.oncall.some((m) => m.includes("esc02"))) ||
        undefined,
      { timeoutMs: 10_000, what: "both problems at the on-call JID" },
    );
    const firstAt = Date.now();
    await component.monitor.alerts.acknowledge("esc02@localhost", "db", "oncall", "on it");
    expect(inbox.team).toHaveLength(0);
    const escalated = await waitFor(() => inbox.team.find((m) => m.includes("esc01")), {
      timeoutMs: STEP_MS + 8000,
      what: "esc01 escalated to the team",
    });
    expect(Date.now() - firstAt).toBeGreaterThanOrEqual(STEP_MS - 1000);
    expect(escalated).toMatch(
      /^ESCALATION \(step 2, unacknowledged for \d+ min\): PROBLEM: .*esc01/,
    );
    await sleep(1500);
    expect(inbox.team.filter((m) => m.includes("esc02"))).toHaveLength(0);
    expect(inbox.team).toHaveLength(1);
    // The dba route did not match db: nothing there.
    expect(inbox.dba).toHaveLength(0);
  });

  it("routes by label: a postgres check goes to the dba receiver only", async () => {
    await publishEntry(
      redis,
      stack.prefix,
      "pg01@localhost",
      1,
      checkXml(1, "postgres_repl", "critical"),
    );
    await waitFor(() => inbox.dba.find((m) => m.includes("pg01")), {
      timeoutMs: 10_000,
      what: "the dba's message",
    });
    await sleep(STEP_MS + 1000); // no escalation on the dba route
    expect(inbox.oncall.filter((m) => m.includes("pg01"))).toHaveLength(0);
    expect(inbox.team.filter((m) => m.includes("pg01"))).toHaveLength(0);
  });

  it("escalates problems due together as one message", async () => {
    const before = inbox.team.length;
    await Promise.all(
      ["storm01", "storm02", "storm03"].map((h) =>
        publishEntry(redis, stack.prefix, `${h}@localhost`, 1, checkXml(1, "web", "critical")),
      ),
    );
    const escalated = await waitFor(
      () => inbox.team.slice(before).find((m) => m.includes("storm0")),
      { timeoutMs: STEP_MS + 10_000, what: "the storm's escalation" },
    );
    await sleep(1500);
    expect(inbox.team.slice(before)).toHaveLength(1);
    expect(escalated).toMatch(
      /^ESCALATION \(step 2, unacknowledged for \d+ min\): PROBLEM: 3 hosts, 3 alerts: check web is CRITICAL: /,
    );
  });
});
