#!/usr/bin/env node
/**
 * bench:storm — the alerting policy under a storm (docs/monitor.md, "Alerting
 * for large fleets"): N light agent sessions (default 10,000) on a private
 * ejabberd, C of them (default 2,000) declaring one parent (`depends` in their
 * status presence), the component as its own process with one receiver JID.
 * The parent and its C children die at once. Measures the time from their
 * death to the single notification naming the parent, the notifications the
 * receiver got (goal: 1), and the monitor's processing lag: how long after the
 * last child's down alert was written to the alert outbox the outbox still had
 * entries to dispatch (goal < 1 s), with the outbox's largest backlog. The
 * monitoring plane holds every host down for its mass window (10 s) before
 * writing its alert (docs/monitor.md, "Plane events"), so the storm reaches
 * the outbox then, not when the hosts are recorded offline; the lag counts
 * from the last down alert's stream id (Redis's clock, as the drain's).
 * Knobs: BENCH_HOSTS=10000 BENCH_CHILDREN=2000 BENCH_HOLD_MS=5000
 * BENCH_MASS_PERCENT (the plane's massPercent; unset, the component's default,
 * 20 %: 2,000 of 10,001 hosts is just over it, but the mass detector leaves
 * out hosts whose parent is down, so the storm is no plane incident),
 * BENCH_PARENT_AFTER_MS=0 (kill the parent this long after its children,
 * which are then recorded down first; 0: the parent first). The time to the
 * notification counts from the parent's death.
 * Writes bench/results/storm.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import { benchWorld, componentUp, dist, inBatches, metric, REDIS_URL, root, sleep, spawnComponent, stopProcess, waitUntil } from "./lib/run.mjs";
import { openSession, registerAccounts, statusPresence } from "./lib/sessions.mjs";

const { createRedis, deletePrefix } = await import(dist("store/index.js"));
const { silentLogger } = await import(dist("log/index.js"));
const { DEFAULT_PLANE_SETTINGS } = await import(dist("monitor/hosts/plane.js"));

const HOSTS = Number(process.env.BENCH_HOSTS ?? 10_000);
const CHILDREN = Math.min(HOSTS, Number(process.env.BENCH_CHILDREN ?? 2000));
const HOLD_MS = Number(process.env.BENCH_HOLD_MS ?? 5000);
/** Unset: the component's own default (not written to its config). */
const MASS_PERCENT_SET = process.env.BENCH_MASS_PERCENT !== undefined;
const MASS_PERCENT = Number(process.env.BENCH_MASS_PERCENT ?? DEFAULT_PLANE_SETTINGS.massPercent);
/** Kill the parent this long after its children (0: the parent first, then the children). */
const PARENT_AFTER_MS = Number(process.env.BENCH_PARENT_AFTER_MS ?? 0);
const PARENT = "switch0";

const say = (line) => process.stderr.write(`bench:storm ${line}\n`);
/** Every 50 ms: the figures are in tenths of seconds. */
const pollUntil = (probe, timeoutMs, what) => waitUntil(probe, timeoutMs, what, 50);

const { prefix, password, ejabberd, httpPort } = await benchWorld("storm", {
  maxOpenFiles: 16_000,
  // 10,000 light sessions on loopback: plain TCP, as bench:fleet (the clients say `insecure`).
  tls: "none",
});
const sessions = [];
let componentProcess;
let receiver;
const redis = createRedis(REDIS_URL, silentLogger());
const result = {
  hosts: HOSTS,
  children: CHILDREN,
  hold_ms: HOLD_MS,
  mass_percent: MASS_PERCENT,
  parent_after_ms: PARENT_AFTER_MS,
};

/** A light agent of `user`, declaring `depends` (its parent) when given. */
const session = (user, depends) =>
  openSession(ejabberd.c2sService, user, password, {
    tls: { insecure: true },
    presence: statusPresence(user, { status: "ok", ...(depends ? { depends } : {}) }),
  });

try {
  say(`starting ejabberd (${ejabberd.dir})`);
  await ejabberd.start();
  const names = [PARENT, "oncall", ...Array.from({ length: HOSTS }, (_, i) => `host${i}`)];
  say(`registering ${names.length} accounts`);
  await registerAccounts(ejabberd.c2sService, names, password, { insecure: true }, { say, label: "registered" });

  const configFile = join(tmpdir(), `jabmon-storm-${process.pid}.json`);
  writeFileSync(
    configFile,
    JSON.stringify({
      alerts: { adminJids: ["oncall@localhost"], renotifyMs: 0 },
      alerting: { dependencies: { holdMs: HOLD_MS, recoveryGraceMs: 60_000 }, tickMs: 200 },
      ...(MASS_PERCENT_SET ? { monitor: { plane: { massPercent: MASS_PERCENT } } } : {}),
    }),
  );
  componentProcess = spawnComponent(ejabberd, { prefix, httpPort, args: ["-c", configFile] });
  const url = `http://127.0.0.1:${httpPort}`;
  await componentUp(url);

  const received = [];
  receiver = await openSession(ejabberd.c2sService, "oncall", password, {
    tls: { insecure: true },
    resource: "r",
    presence: xml("presence"),
  });
  receiver.on("stanza", (s) => {
    if (s.is("message") && s.getChildText("body")) received.push({ at: Date.now(), body: s.getChildText("body") });
  });

  say(`connecting the parent and ${HOSTS} hosts (${CHILDREN} under the parent)`);
  let t = Date.now();
  const parent = await session(PARENT);
  await inBatches(HOSTS, Number(process.env.BENCH_CONNECT_BATCH ?? 50), async (i) => {
    sessions[i] = await session(`host${i}`, i < CHILDREN ? PARENT : undefined);
  }, { say, label: "online" });
  await pollUntil(async () => (await metric(url, "jabmon_agents_connected")) >= HOSTS + 1, 300_000, "every host online");
  result.connect_s = (Date.now() - t) / 1000;
  await sleep(2000); // the last presences' dependencies recorded

  say(`killing the parent and its ${CHILDREN} children`);
  const before = received.length;
  const outbox = `${prefix}alerts:outbox`;
  let maxBacklog = 0;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const groups = await redis.xinfo("GROUPS", outbox).catch(() => []);
      for (const g of groups) {
        const m = {};
        for (let i = 0; i + 1 < g.length; i += 2) m[g[i]] = g[i + 1];
        if (m.name === "dispatch") maxBacklog = Math.max(maxBacklog, Number(m.lag ?? 0) + Number(m.pending ?? 0));
      }
      await sleep(50);
    }
  })();
  // The host-down alerts written from here on: the parent's and its children's.
  let cursor = (await redis.xrevrange(outbox, "+", "-", "COUNT", 1))[0]?.[0] ?? "0-0";
  let downsWritten = 0;
  let lastDownId = cursor;
  const readDowns = async () => {
    for (;;) {
      const rows = await redis.xrange(outbox, `(${cursor}`, "+", "COUNT", 1000);
      if (rows.length === 0) return;
      for (const [id, fields] of rows) {
        cursor = id;
        const m = {};
        for (let i = 0; i + 1 < fields.length; i += 2) m[fields[i]] = fields[i + 1];
        if (m.kind === "host" && m.state === "down") {
          downsWritten += 1;
          lastDownId = id;
        }
      }
    }
  };
  const kill = (x) => {
    x.reconnect?.stop();
    x.socket?.destroy();
  };
  t = Date.now();
  let parentDiedAt = t;
  if (PARENT_AFTER_MS > 0) {
    // The children first, recorded down while their parent is still up.
    for (const x of sessions.slice(0, CHILDREN)) kill(x);
    await sleep(PARENT_AFTER_MS);
    parentDiedAt = Date.now();
    kill(parent);
  } else for (const x of [parent, ...sessions.slice(0, CHILDREN)]) kill(x);
  await pollUntil(
    async () => (await metric(url, "jabmon_agents_connected")) <= HOSTS - CHILDREN,
    120_000,
    "the killed hosts recorded offline",
  );
  result.all_down_recorded_s = (Date.now() - t) / 1000;
  await waitUntil(async () => {
    await readDowns();
    return downsWritten >= CHILDREN + 1;
  }, 120_000, "every down alert in the outbox");
  const downAt = Number(lastDownId.split("-")[0]);
  result.downs_in_outbox_s = (downAt - t) / 1000;
  // Dispatch keeps up when the outbox has nothing left to dispatch soon after the last down.
  await pollUntil(async () => {
    const groups = await redis.xinfo("GROUPS", outbox).catch(() => []);
    return groups.every((g) => {
      const m = {};
      for (let i = 0; i + 1 < g.length; i += 2) m[g[i]] = g[i + 1];
      return Number(m.lag ?? 0) + Number(m.pending ?? 0) === 0;
    });
  }, 120_000, "the outbox drained");
  result.processing_lag_s = (Date.now() - downAt) / 1000;
  const note = await pollUntil(() => received.slice(before).some((m) => m.body.includes(PARENT)), 120_000, "the parent's notification");
  result.time_to_notification_s = (Date.now() - parentDiedAt) / 1000;
  void note;
  await sleep(HOLD_MS + 3000); // anything else would have come by now
  polling = false;
  await poll;
  const storm = received.slice(before);
  result.notifications_sent = storm.length;
  result.plane_alerts = storm.filter((m) => /monitoring (degraded|recovered)/.test(m.body)).length;
  result.outbox_max_backlog = maxBacklog;
  const parentMessage = storm.find((m) => m.body.includes(PARENT))?.body ?? "";
  result.unreachable_counted = Number(/(\d+) dependent hosts unreachable/.exec(parentMessage)?.[1] ?? 0);
  result.notification = parentMessage.slice(0, 200);
} finally {
  say("cleaning up");
  await stopProcess(componentProcess);
  await Promise.all([...sessions, receiver].map((a) => a?.stop().catch(() => {})));
  await ejabberd.destroy().catch(() => {});
  await deletePrefix(redis, prefix);
  redis.disconnect();
}

mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "storm.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
