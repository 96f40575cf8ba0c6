/**
 * The plane incident's bookkeeping in real Redis (src/monitor/hosts/plane.ts and
 * the planeOpen/planeClose scripts), with two "component processes" sharing
 * one prefix: one degraded and one recovered alert per incident however many
 * processes see it, a dead process does not keep the incident open, a wave of
 * downs opens a mass incident (unless the hosts' parent is down, also when it
 * goes down after them), and held down alerts are released only for hosts
 * still down. The links are stand-ins (what is tested here is the
 * shared state, not XMPP; test/e2e/plane.test.ts runs the whole system).
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { ComponentLink } from "../../src/component/index.js";
import { silentLogger } from "../../src/log/index.js";
import { DependencyMap } from "../../src/monitor/alerting/dependencies.js";
import { AlertingKeys } from "../../src/monitor/alerting/keys.js";
import { alertFromFields } from "../../src/monitor/alerts/record.js";
import { PlaneWatch } from "../../src/monitor/hosts/plane.js";
import { createRedis, deletePrefix, HostStore, Keys } from "../../src/store/index.js";
import { waitFor } from "../helpers/wait.js";

const REDIS_URL = process.env.JABMON_REDIS_URL ?? "redis://127.0.0.1:6379";
const redis = createRedis(REDIS_URL, silentLogger());
const prefixes: string[] = [];
const watches: PlaneWatch[] = [];

afterEach(async () => {
  for (const w of watches.splice(0)) await w.stop();
});
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(redis, p);
  redis.disconnect();
});

/** Enough of a ComponentLink for the plane: its JID, state and listeners. */
function fakeLink() {
  const online: Array<() => void> = [];
  const offline: Array<() => void> = [];
  let up = false;
  const link = {
    jid: "monitor.localhost",
    isOnline: () => up,
    onOnline: (l: () => void) => online.push(l),
    onOffline: (l: () => void) => offline.push(l),
  } as unknown as ComponentLink;
  return {
    link,
    up: () => {
      up = true;
      for (const l of online) l();
    },
    down: () => {
      up = false;
      for (const l of offline) l();
    },
  };
}

function setup() {
  const prefix = `jabmon-test-plane:${Math.random().toString(36).slice(2)}:`;
  prefixes.push(prefix);
  const keys = new Keys(prefix);
  const hosts = new HostStore(redis, keys);
  const released: string[] = [];
  // The alerting policy's dependencies, as the monitor wires them.
  const dependencies = new DependencyMap(redis, keys, new AlertingKeys(prefix), []);
  const watch = async (instanceId: string, settings = {}) => {
    const f = fakeLink();
    const w = new PlaneWatch({
      redis,
      keys,
      hosts,
      link: f.link,
      log: silentLogger(),
      instanceId,
      outboxMax: 1000,
      settings: { graceMs: 1500, massWindowMs: 1000, ...settings },
      releaseDown: async (jid) => {
        released.push(jid);
      },
      explainedDowns: (jids) => dependencies.explainDowns(jids),
    });
    watches.push(w);
    await w.start();
    f.up();
    return { w, ...f };
  };
  const planeAlerts = async () =>
    ((await redis.xrange(keys.alertOutbox(), "-", "+")) as Array<[string, string[]]>)
      .map(([, fields]) => alertFromFields(fields))
      .filter((a) => a.kind === "plane")
      .map((a) => `${a.state}:${a.check}`);
  return { keys, hosts, released, watch, planeAlerts, dependencies };
}

describe("plane incidents shared by component processes", () => {
  it("two processes losing and regaining their link raise one degraded and one recovered alert", async () => {
    const { watch, planeAlerts } = setup();
    const a = await watch("a");
    const b = await watch("b");
    a.down();
    b.down();
    await waitFor(async () => (await planeAlerts()).length === 1, { timeoutMs: 3000 });
    a.up();
    await new Promise((r) => setTimeout(r, 300));
    // b's link is still down: the incident is not over.
    expect(await planeAlerts()).toEqual(["degraded:link"]);
    b.up();
    await waitFor(async () => (await planeAlerts()).length === 2, { timeoutMs: 3000 });
    expect(await planeAlerts()).toEqual(["degraded:link", "recovered:link"]);
  });

  it("a process that dies with its link down does not keep the incident open", async () => {
    const { watch, planeAlerts, keys } = setup();
    const a = await watch("a");
    await watch("b");
    a.down();
    await waitFor(async () => (await planeAlerts()).length === 1, { timeoutMs: 3000 });
    // a is gone without a word: its timers stop and its heartbeat ages.
    await a.w.stop();
    await redis.hset(keys.planeCauses(), "link|a", String(Date.now()));
    await redis.hset(keys.planeBeats(), "a", String(Date.now() - 60_000));
    await waitFor(async () => (await planeAlerts()).length === 2, { timeoutMs: 5000 });
    // The recovery names the cause the degraded alert named (it closes that problem).
    expect(await planeAlerts()).toEqual(["degraded:link", "recovered:link"]);
  });

  it("a wave of downs is one mass incident; hosts back within the grace are not alerted, the others are", async () => {
    const { watch, planeAlerts, keys, released } = setup();
    const { w } = await watch("a");
    const now = Date.now();
    const jids = Array.from({ length: 20 }, (_, i) => `h${i}@localhost`);
    for (const jid of jids) {
      await redis.zadd(keys.hosts(), now, jid);
      await redis.hset(keys.host(jid), "jid", jid, "online", "0", "lastSeen", String(now));
    }
    // 8 of 20 (40 %) down at once.
    for (const jid of jids.slice(0, 8)) expect(await w.holdDown(jid)).toBe(true);
    await waitFor(async () => (await planeAlerts()).includes("degraded:mass"), { timeoutMs: 3000 });
    // Five come back; three do not.
    for (const jid of jids.slice(0, 5)) {
      await redis.hset(keys.host(jid), "online", "1");
      await w.hostBack(jid);
    }
    await waitFor(async () => (await planeAlerts()).includes("recovered:mass"), {
      timeoutMs: 5000,
    });
    expect(released).toEqual([]); // the grace (1.5 s) runs
    await waitFor(() => released.length === 3, { timeoutMs: 6000 });
    expect(released.sort()).toEqual(jids.slice(5, 8).sort());
    expect(await planeAlerts()).toEqual(["degraded:mass", "recovered:mass"]);
  });

  it("children down before their parent open no mass incident when the parent follows within parentWaitMs", async () => {
    const { watch, planeAlerts, keys, dependencies } = setup();
    const { w } = await watch("a", { massWindowMs: 4000, parentWaitMs: 2000 });
    const { parent, children } = await rack(keys, dependencies);
    for (const jid of children) expect(await w.holdDown(jid)).toBe(true);
    await new Promise((r) => setTimeout(r, 1200)); // a tick or two: the parent is still up
    await redis.hset(keys.host(parent), "online", "0");
    expect(await w.holdDown(parent)).toBe(true);
    await new Promise((r) => setTimeout(r, 2500)); // past parentWaitMs, within the window
    expect(await planeAlerts()).toEqual([]);
  });

  it("children down whose parent stays up count as a mass incident once parentWaitMs has passed", async () => {
    const { watch, planeAlerts, keys, dependencies } = setup();
    const { w } = await watch("a", { massWindowMs: 4000, parentWaitMs: 2000 });
    const { children } = await rack(keys, dependencies);
    const downAt = Date.now();
    for (const jid of children) expect(await w.holdDown(jid)).toBe(true);
    await waitFor(async () => (await planeAlerts()).includes("degraded:mass"), { timeoutMs: 4000 });
    expect(Date.now() - downAt).toBeGreaterThanOrEqual(2000);
  });

  it("a lone host down in a large fleet is alerted after the mass window, with no plane alert", async () => {
    const { watch, planeAlerts, keys, released } = setup();
    const { w } = await watch("a");
    for (let i = 0; i < 20; i++) await redis.zadd(keys.hosts(), Date.now(), `h${i}@localhost`);
    await redis.hset(keys.host("h0@localhost"), "jid", "h0@localhost", "online", "0");
    expect(await w.holdDown("h0@localhost")).toBe(true);
    await waitFor(() => released.length === 1, { timeoutMs: 5000 });
    expect(released).toEqual(["h0@localhost"]);
    expect(await planeAlerts()).toEqual([]);
  });

  it("a small fleet's down alerts are not held outside an incident", async () => {
    const { watch, keys } = setup();
    const { w } = await watch("a");
    await redis.zadd(keys.hosts(), Date.now(), "h0@localhost");
    expect(await w.holdDown("h0@localhost")).toBe(false);
  });

  it("a component started after the last one died reports the restart once", async () => {
    const { watch, planeAlerts, keys } = setup();
    await redis.hset(keys.planeBeats(), "dead", String(Date.now() - 30_000));
    await watch("new1");
    await waitFor(async () => (await planeAlerts()).length === 2, { timeoutMs: 5000 });
    expect(await planeAlerts()).toEqual(["degraded:restart", "recovered:restart"]);
  });
});

/**
 * 20 known hosts: a parent (online) and 8 children declaring it, down (40 %
 * of the fleet, a mass unavailability unless the parent's down explains it).
 */
async function rack(keys: Keys, dependencies: DependencyMap) {
  const now = Date.now();
  const parent = "p@localhost";
  const jids = Array.from({ length: 19 }, (_, i) => `c${i}@localhost`);
  await redis.zadd(keys.hosts(), now, parent);
  await redis.hset(keys.host(parent), "jid", parent, "online", "1", "lastSeen", String(now));
  for (const [i, jid] of jids.entries()) {
    await redis.zadd(keys.hosts(), now, jid);
    await redis.hset(keys.host(jid), "jid", jid, "online", i < 8 ? "0" : "1");
  }
  const children = jids.slice(0, 8);
  for (const jid of children) await dependencies.declare(jid, ["p"]);
  return { parent, children };
}
