/**
 * The alert dispatch of one outbox batch on real Redis (no XMPP: the sinks
 * collect): many hosts' alerts are dispatched at once, each host's in outbox
 * order and numbered in outbox order; an alert that fails holds back its own
 * host's later alerts (dispatched after it when claimed again) but not the
 * other hosts'; a storm of hosts failing one check still gives one grouped
 * message, its hosts in outbox order.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import { AlertGate, DEFAULT_ALERTING } from "../../src/monitor/alerting/index.js";
import {
  AlertCenter,
  type AlertCenterOptions,
  DISPATCH_GROUP,
  type DispatchGate,
} from "../../src/monitor/alerts/center.js";
import { type AlertRecord, alertFields } from "../../src/monitor/alerts/record.js";
import { createRedis, deletePrefix, Keys } from "../../src/store/index.js";
import { REDIS_URL } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const prefixes: string[] = [];
const redis = createRedis(REDIS_URL, silentLogger());
afterAll(async () => {
  for (const prefix of prefixes) await deletePrefix(redis, prefix);
  redis.disconnect();
});

function freshKeys(): Keys {
  const prefix = `jabmon-test-dispatch-order:${randomUUID()}:`;
  prefixes.push(prefix);
  return new Keys(prefix);
}

const hostAlert = (host: string, state: "down" | "up", text: string): AlertRecord => ({
  id: randomUUID(),
  kind: "host",
  jid: `${host}@localhost`,
  host,
  check: "",
  state,
  previous: state === "down" ? "up" : "down",
  text,
  time: Date.now(),
});

/** Written before the center starts: its first read takes them as one batch (up to 100). */
async function fillOutbox(keys: Keys, alerts: AlertRecord[]): Promise<void> {
  const pipeline = redis.pipeline();
  pipeline.xgroup("CREATE", keys.alertOutbox(), DISPATCH_GROUP, "0", "MKSTREAM");
  for (const alert of alerts) pipeline.xadd(keys.alertOutbox(), "*", ...alertFields(alert));
  await pipeline.exec();
}

async function outboxPending(keys: Keys): Promise<number> {
  const [count] = (await redis.xpending(keys.alertOutbox(), DISPATCH_GROUP)) as [number];
  return Number(count);
}

function center(keys: Keys, more: Partial<AlertCenterOptions>): AlertCenter {
  return new AlertCenter({
    redis,
    keys,
    log: silentLogger(),
    instanceId: "dispatch-order-test",
    ...more,
  });
}

describe("alert dispatch of a batch", () => {
  it("dispatches many hosts' alerts at once, each host's one at a time and in outbox order", async () => {
    const keys = freshKeys();
    const hosts = Array.from({ length: 20 }, (_, i) => `ord${String(i).padStart(2, "0")}`);
    const states = ["down", "up", "down", "up", "down"] as const;
    // Round by round, so each host's alerts are spread over the batch.
    const written = states.flatMap((state, round) =>
      hosts.map((host) => hostAlert(host, state, `round ${round}`)),
    );
    await fillOutbox(keys, written);
    const delivered: AlertRecord[] = [];
    const inFlight = new Map<string, number>();
    let busy = 0;
    let mostBusy = 0;
    let mostBusyOneHost = 0;
    const alerts = center(keys, {
      sinks: [
        {
          name: "slow",
          async deliver(alert) {
            busy += 1;
            const mine = (inFlight.get(alert.jid) ?? 0) + 1;
            inFlight.set(alert.jid, mine);
            mostBusy = Math.max(mostBusy, busy);
            mostBusyOneHost = Math.max(mostBusyOneHost, mine);
            await sleep(5);
            inFlight.set(alert.jid, mine - 1);
            busy -= 1;
            delivered.push(alert);
          },
        },
      ],
    });
    await alerts.start();
    try {
      await waitFor(() => delivered.length === written.length, {
        timeoutMs: 20_000,
        what: "every alert delivered",
      });
      await waitFor(async () => (await outboxPending(keys)) === 0, { what: "every row acked" });
    } finally {
      await alerts.stop();
    }
    expect(mostBusy).toBeGreaterThan(1);
    expect(mostBusyOneHost).toBe(1);
    for (const host of hosts) {
      const mine = delivered.filter((a) => a.host === host);
      expect(mine.map((a) => a.text)).toEqual(states.map((_, round) => `round ${round}`));
    }
    // Numbers ("ack 42") follow the outbox order, whatever order the hosts finished in.
    const byNumber = [...delivered].sort((a, b) => (a.num ?? 0) - (b.num ?? 0));
    expect(byNumber.map((a) => a.id)).toEqual(written.map((a) => a.id));
  });

  it("holds back a failed alert's host until it is dispatched again, not the other hosts", async () => {
    const keys = freshKeys();
    const written = [
      hostAlert("stuck", "down", "first"),
      ...Array.from({ length: 10 }, (_, i) => hostAlert(`free${i}`, "down", "free")),
      hostAlert("stuck", "up", "second"),
    ];
    await fillOutbox(keys, written);
    const events: string[] = [];
    let failOnce = true;
    // A gate that cannot admit the stuck host's first alert once (as if Redis failed there).
    const gate: DispatchGate = {
      async admit(alert) {
        if (alert.host === "stuck" && failOnce) {
          failOnce = false;
          events.push("stuck failed");
          throw new Error("gate unavailable");
        }
        return undefined;
      },
      start() {},
      async stop() {},
    };
    const alerts = center(keys, {
      gate,
      claimIdleMs: 1000,
      sinks: [
        {
          name: "collect",
          async deliver(alert) {
            events.push(`${alert.host} ${alert.text}`);
          },
        },
      ],
    });
    await alerts.start();
    try {
      await waitFor(() => events.includes("stuck second"), {
        timeoutMs: 15_000,
        what: "the stuck host's second alert",
      });
      await waitFor(async () => (await outboxPending(keys)) === 0, { what: "every row acked" });
    } finally {
      await alerts.stop();
    }
    const stuck = events.filter((e) => e.startsWith("stuck"));
    expect(stuck).toEqual(["stuck failed", "stuck first", "stuck second"]);
    // The other hosts went out before the stuck host was claimed again.
    const frees = events.filter((e) => e.startsWith("free"));
    expect(frees).toHaveLength(10);
    const retried = events.indexOf("stuck first");
    expect(events.slice(0, retried).filter((e) => e.startsWith("free"))).toHaveLength(10);
  });

  it("groups a storm of hosts failing one check into one message, its hosts in outbox order", async () => {
    const keys = freshKeys();
    const hosts = Array.from({ length: 150 }, (_, i) => `grp${String(i).padStart(3, "0")}`);
    const written = hosts.map(
      (host): AlertRecord => ({
        id: randomUUID(),
        kind: "check",
        jid: `${host}@localhost`,
        host,
        check: "http",
        state: "critical",
        previous: "ok",
        text: "refused",
        time: Date.now(),
      }),
    );
    await fillOutbox(keys, written);
    const gate = new AlertGate({
      redis,
      keys,
      log: silentLogger(),
      settings: {
        ...DEFAULT_ALERTING,
        group: { ...DEFAULT_ALERTING.group, waitMs: 1500, listMax: 5 },
        tickMs: 100,
      },
      outboxMax: 10_000,
    });
    const messages: string[] = [];
    const alerts = center(keys, {
      gate,
      sinks: [
        {
          name: "collect",
          async deliver(_alert, message) {
            messages.push(message);
          },
        },
      ],
    });
    await alerts.start();
    try {
      await waitFor(() => messages.length > 0, { timeoutMs: 15_000, what: "the grouped message" });
      await sleep(1000); // a second message, if any, would have come by now
    } finally {
      await alerts.stop();
    }
    expect(messages).toHaveLength(1);
    const message = messages[0] as string;
    expect(message).toMatch(/^PROBLEM: 150 hosts, 150 alerts: check http is CRITICAL: /);
    const listed = [...message.matchAll(/(grp\d{3}) \[#(\d+)\]/g)];
    expect(listed.map((m) => m[1])).toEqual(hosts.slice(0, 5));
    const numbers = listed.map((m) => Number(m[2]));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
  });
});
