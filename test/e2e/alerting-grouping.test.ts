/**
 * Grouping and inhibition (docs/monitor.md, "Alerting for large fleets"): 200
 * hosts failing one check within the group wait give one message, with the
 * count and the first names, at the admin JID; a critical of one kind
 * inhibits a warning of another on the same host.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import type { Redis } from "../../src/store/index.js";
import { componentChat } from "../helpers/chat.js";
import { checkXml, publishEntry } from "../helpers/ingest.js";
import { useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const HOSTS = 200;
const LIST_MAX = 5;
const stack = useStack("alerting-grouping");
let component: RunningComponent;
let redis: Redis;
const messages: string[] = [];

beforeAll(async () => {
  const adminAccount = await stack.account("admin");
  component = await stack.startComponent({
    alerts: { adminJids: [adminAccount.jid], renotifyMs: 0 },
    alerting: {
      group: { waitMs: 4000, intervalMs: 1000, listMax: LIST_MAX },
      inhibit: [
        {
          source: { kind: "check", check: "ping", state: "critical" },
          target: { kind: "check", state: "warning" },
        },
      ],
      tickMs: 200,
    },
  });
  redis = stack.redis();
  await componentChat(stack, adminAccount, (body) => messages.push(body));
});

describe("grouping", () => {
  it("sends one message for 200 hosts failing one check within the group wait", async () => {
    const names = Array.from({ length: HOSTS }, (_, i) => `grp${String(i).padStart(3, "0")}`);
    await Promise.all(
      names.map((n) =>
        publishEntry(redis, stack.prefix, `${n}@localhost`, 1, checkXml(1, "http", "critical")),
      ),
    );
    const grouped = await waitFor(() => messages.find((m) => m.includes("check http")), {
      timeoutMs: 20_000,
      what: "the grouped message",
    });
    await sleep(2000); // a second message, if any, would have come by now
    const about = messages.filter((m) => m.includes("check http"));
    expect(about).toHaveLength(1);
    expect(grouped).toMatch(
      new RegExp(`^PROBLEM: ${HOSTS} hosts, ${HOSTS} alerts: check http is CRITICAL: `),
    );
    expect(grouped).toContain(`and ${HOSTS - LIST_MAX} more`);
    // The first N names, each with the number "ack" takes.
    expect(grouped.match(/grp\d{3} \[#\d+\]/g)).toHaveLength(LIST_MAX);
    // Every alert is still its own open problem (and can be acked by number).
    const open = await component.monitor.problems.list();
    expect(open.filter((p) => p.alert.check === "http")).toHaveLength(HOSTS);
  });

  it("inhibits a warning while a critical of the rule's source kind is open on the same host", async () => {
    const jid = "inh01@localhost";
    await publishEntry(redis, stack.prefix, jid, 1, checkXml(1, "ping", "critical"));
    await waitFor(() => messages.find((m) => m.includes(jid) && m.includes("check ping")), {
      timeoutMs: 15_000,
      what: "the ping alert",
    });
    await publishEntry(redis, stack.prefix, jid, 2, checkXml(2, "disk", "warning"));
    const inhibited = await waitFor(
      async () =>
        (await component.monitor.alerts.recent(50)).find(
          (a) => a.jid === jid && a.check === "disk" && a.suppressed === "inhibited",
        ),
      { timeoutMs: 10_000, what: "the disk warning inhibited" },
    );
    expect(inhibited.reason).toMatch(/ping critical/);
    // Another host's warning is not inhibited by inh01's ping.
    await publishEntry(redis, stack.prefix, "inh02@localhost", 1, checkXml(1, "disk", "warning"));
    await waitFor(() => messages.find((m) => m.includes("inh02@localhost")), {
      timeoutMs: 15_000,
      what: "inh02's warning",
    });
    await sleep(1000);
    expect(messages.filter((m) => m.includes(jid) && m.includes("check disk"))).toHaveLength(0);
  });
});
