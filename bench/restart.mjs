#!/usr/bin/env node
/**
 * bench:restart (issue 17): N agent sessions (default 10,000) on one private
 * ejabberd with the jabmon component as its own process; ejabberd is
 * restarted, every session drops at once, and the fleet comes back. Goals:
 * host_down_alerts 0, degraded_alerts 1 (and recovered_alerts 1),
 * all_back_online_s < 60, results_lost 0; peak_component_rss_mb is measured.
 *
 * The agents are light protocol-level sessions in this one process, as in
 * bench/fleet.mjs, but they behave as the agent does where it matters here:
 * reconnect with the agent's backoff (keepConnected, full jitter, 500 ms to
 * BENCH_MAX_DELAY_MS = 30 s as reconnectMaxDelayMs), send their status
 * presence on every connection, answer the component's re-probe, keep every
 * result until the service acknowledged it and publish it again after a
 * failure (a `wait` resource-constraint from the component's back-pressure
 * included). Each session publishes one result before the restart and one
 * while ejabberd is down (spooled), then replays.
 *
 * Alerts are observed at a webhook receiver, as an operator gets them, until
 * the plane's recovered alert plus the grace plus the mass window have passed.
 * One process holds all the sessions, so their handshakes share one core
 * where a real fleet has one CPU per host: at most BENCH_CONNECT_CONCURRENCY
 * (default 100) negotiations are in progress at once (keepConnected's
 * `admit`), so that this process's event loop does not time its own
 * attempts out. ejabberd still sees up to 100 handshakes at a time.
 * Knobs: BENCH_AGENTS, BENCH_MAX_DELAY_MS, BENCH_GRACE_MS (component's
 * monitor.plane.graceMs, default 60000), BENCH_CONNECT_BATCH,
 * BENCH_CONNECT_CONCURRENCY.
 * Writes bench/results/restart.json (BENCH_OUT to change the name).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import { beamPid, benchWorld, COMPONENT, componentUp, cpuSeconds, dist, metric, NS_JABMON, NS_PUBSUB, REDIS_URL, root, rssMb, sleep, spawnComponent, waitUntil } from "./lib/run.mjs";
import { registerAccounts, statusPresence } from "./lib/sessions.mjs";

const { createRedis, deletePrefix, Keys } = await import(dist("store/index.js"));
const { silentLogger } = await import(dist("log/index.js"));
const { admissionGate, keepConnected } = await import(dist("xmpp/index.js"));
const { createClient } = await import(dist("client/index.js"));

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const MAX_DELAY_MS = Number(process.env.BENCH_MAX_DELAY_MS ?? 30_000);
const GRACE_MS = Number(process.env.BENCH_GRACE_MS ?? 60_000);
const MASS_WINDOW_MS = 10_000;
const OUT = process.env.BENCH_OUT ?? "restart";
const CONNECT_CONCURRENCY = Number(process.env.BENCH_CONNECT_CONCURRENCY ?? 100);
const admit = admissionGate(CONNECT_CONCURRENCY);

const say = (line) => process.stderr.write(`bench:restart ${line}\n`);
// A session reset mid-handshake under a connection storm can surface as an
// unhandled rejection inside xmpp.js; one session's hiccup must not end the
// run. Counted and reported (client_unhandled_rejections).
let unhandled = 0;
process.on("unhandledRejection", (err) => {
  if (unhandled++ === 0) say(`client-side unhandled rejection (counted): ${err?.message ?? err}`);
});
const round = (x) => Math.round(x * 100) / 100;

/** Every 250 ms: the fleet's figures are in seconds. */
const pollUntil = (probe, timeoutMs, what) => waitUntil(probe, timeoutMs, what, 250);

const connected = (url) => metric(url, "jabmon_agents_connected");

// ---------------------------------------------------------------- webhook receiver
const hooks = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => {
    body += c;
  });
  req.on("end", () => {
    try {
      hooks.push({ ...JSON.parse(body), at: Date.now() });
    } catch {}
    res.end("ok");
  });
});
await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

// ---------------------------------------------------------------- a light agent
/** One session: status presence, re-probe answers, results kept until acknowledged. */
class LightAgent {
  pending = new Map(); // seq → element
  acked = new Set();
  nextSeq = 1;
  sending = false;
  waits = 0;

  constructor(i, service, password) {
    this.i = i;
    this.jid = `host${i}@localhost`;
    this.xmpp = createClient({ service, domain: "localhost", username: `host${i}`, password, resource: "agent", caFile: ejabberd.caFile });
    this.xmpp.on("error", () => {});
    this.xmpp.on("stanza", (s) => {
      if (s.is("presence") && s.attrs.from === COMPONENT && !s.attrs.type) void this.presence();
    });
    this.keeper = keepConnected(this.xmpp, {
      log: silentLogger(),
      maxDelayMs: MAX_DELAY_MS,
      admit,
      onOnline: () => {
        void this.presence();
        void this.flush();
      },
    });
  }

  /**
   * As the agent does (docs/protocol.md, "Status presence"): broadcast
   * presence, which makes the session available so that the component's
   * re-probe to the bare JID reaches it, then the directed copy the component
   * records. With the directed copy only, a session that came back before the
   * component's link did never heard the re-probe and stayed "down".
   */
  presence() {
    const directed = statusPresence(`host${this.i}`, { status: "all checks ok", checks: "1", failing: "0" });
    const broadcast = statusPresence(`host${this.i}`, { status: "all checks ok", checks: "1", failing: "0" });
    delete broadcast.attrs.to;
    return this.xmpp.send(broadcast).then(() => this.xmpp.send(directed)).catch(() => {});
  }

  /** Record a result (spooled until acknowledged) and try to send it. */
  record() {
    const seq = this.nextSeq++;
    this.pending.set(
      seq,
      xml("event", { xmlns: NS_JABMON, seq: String(seq), time: new Date().toISOString(), type: "message", severity: "info" }, xml("text", {}, `r${seq}`)),
    );
    void this.flush();
    return seq;
  }

  /** Oldest first, one at a time; on failure back off and try again (the publisher's replay). */
  async flush() {
    if (this.sending) return;
    this.sending = true;
    try {
      let failures = 0;
      while (this.pending.size > 0 && this.xmpp.status === "online") {
        const [seq, payload] = this.pending.entries().next().value;
        const iq = xml("iq", { type: "set", to: COMPONENT }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("publish", { node: `agents/${this.jid}` }, xml("item", {}, payload))));
        try {
          await this.xmpp.iqCaller.request(iq, 30_000);
          this.pending.delete(seq);
          this.acked.add(seq);
          failures = 0;
        } catch (err) {
          if (err?.condition === "resource-constraint") this.waits += 1;
          failures += 1;
          await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures - 1, 6)) * (0.5 + Math.random() / 2));
        }
      }
    } finally {
      this.sending = false;
    }
  }
}

// ---------------------------------------------------------------- the run
const { prefix, password, ejabberd, httpPort } = await benchWorld("restart", { maxOpenFiles: 32_000 });
const keys = new Keys(prefix);
const url = `http://127.0.0.1:${httpPort}`;
const agents = [];
let component;
const result = { agents: AGENTS, reconnect_max_delay_ms: MAX_DELAY_MS, grace_ms: GRACE_MS, connect_concurrency: CONNECT_CONCURRENCY };

try {
  say(`starting ejabberd (${ejabberd.dir})`);
  await ejabberd.start();
  component = spawnComponent(ejabberd, {
    prefix,
    httpPort,
    env: { JABMON_ALERT_WEBHOOK: hookUrl, JABMON_PLANE_GRACE_MS: String(GRACE_MS) },
  });
  await componentUp(url);
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rssMb(component.pid) || 0);
  }, 500);

  say(`registering ${AGENTS} accounts`);
  const batch = Number(process.env.BENCH_CONNECT_BATCH ?? 50);
  const hosts = Array.from({ length: AGENTS }, (_, i) => `host${i}`);
  await registerAccounts(ejabberd.c2sService, hosts, password, { caFile: ejabberd.caFile });
  say(`connecting ${AGENTS} sessions`);
  let t = Date.now();
  for (let i = 0; i < AGENTS; i += batch) {
    const group = Array.from({ length: Math.min(batch, AGENTS - i) }, (_, j) => new LightAgent(i + j, ejabberd.c2sService, password));
    agents.push(...group);
    await Promise.all(group.map((a) => a.keeper.firstOnline));
  }
  await pollUntil(async () => (await connected(url).catch(() => -1)) >= AGENTS, 300_000, "every host online");
  result.connect_s = round((Date.now() - t) / 1000);
  for (const a of agents) a.record();
  await pollUntil(() => agents.every((a) => a.pending.size === 0), 300_000, "the first results acknowledged");
  result.rss_before_restart_mb = round(rssMb(component.pid));
  hooks.length = 0;

  say("restarting ejabberd");
  t = Date.now();
  await ejabberd.stop();
  for (const a of agents) a.record(); // spooled while the server is away
  await ejabberd.start();
  result.ejabberd_restart_s = round((Date.now() - t) / 1000);
  // Where the comeback's CPU goes: the new ejabberd, this process (every session's client side), the component.
  const beam = beamPid(ejabberd.nodeName);
  const cpuAtRestart = { ejabberd: cpuSeconds(beam), bench: process.cpuUsage(), component: cpuSeconds(component.pid) };
  let lastSaid = 0;
  result.all_back_online_s = round(
    (Date.now() - t) / 1000 +
      (await pollUntil(
        async () => {
          const online = await connected(url).catch(() => -1);
          if (Date.now() - lastSaid >= 5000) {
            lastSaid = Date.now();
            say(`${online} of ${AGENTS} online, ${round((Date.now() - t) / 1000)} s after the restart began`);
          }
          return online >= AGENTS;
        },
        600_000,
        "every host back",
      )),
  );
  const benchCpu = process.cpuUsage(cpuAtRestart.bench);
  Object.assign(result, {
    comeback_cpu_s_ejabberd: round(cpuSeconds(beam) - cpuAtRestart.ejabberd),
    comeback_cpu_s_bench_clients: round((benchCpu.user + benchCpu.system) / 1e6),
    comeback_cpu_s_component: round(cpuSeconds(component.pid) - cpuAtRestart.component),
  });
  say(`all back online after ${result.all_back_online_s} s`);
  await pollUntil(() => agents.every((a) => a.pending.size === 0), 600_000, "every spooled result acknowledged").catch(() => {});
  result.all_replayed_s = round((Date.now() - t) / 1000);
  await pollUntil(() => hooks.some((h) => h.alert?.kind === "plane" && h.alert.state === "recovered"), 600_000, "the plane's recovered alert").catch(() => {});
  say("waiting for the grace to pass");
  await sleep(GRACE_MS + MASS_WINDOW_MS + 5000);
  clearInterval(sampler);

  const redis = createRedis(REDIS_URL, silentLogger());
  let lost = 0;
  let unacknowledged = 0;
  for (const a of agents) {
    unacknowledged += a.pending.size;
    const applied = new Set((await redis.lrange(keys.events(a.jid), 0, -1)).map((r) => JSON.parse(r).seq));
    for (const seq of a.acked) if (!applied.has(seq)) lost += 1;
  }
  redis.disconnect();

  const plane = (state) => hooks.filter((h) => h.alert?.kind === "plane" && h.alert.state === state);
  Object.assign(result, {
    host_down_alerts: hooks.filter((h) => h.alert?.kind === "host" && h.alert.state === "down").length,
    degraded_alerts: plane("degraded").length,
    recovered_alerts: plane("recovered").length,
    plane_messages: hooks.filter((h) => h.alert?.kind === "plane").map((h) => h.message),
    results_lost: lost,
    results_unacknowledged_at_end: unacknowledged,
    backpressure_waits: agents.reduce((n, a) => n + a.waits, 0),
    peak_component_rss_mb: round(peakRss),
    client_unhandled_rejections: unhandled,
    goals: { host_down_alerts: 0, degraded_alerts: 1, all_back_online_s: "< 60", results_lost: 0 },
  });
  mkdirSync(join(root, "bench", "results"), { recursive: true });
  writeFileSync(join(root, "bench", "results", `${OUT}.json`), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await Promise.all(agents.map((a) => a.keeper.stop().catch(() => {})));
  component?.kill("SIGTERM");
  await ejabberd.destroy().catch(() => {});
  const redis = createRedis(REDIS_URL, silentLogger());
  await deletePrefix(redis, prefix).catch(() => {});
  redis.disconnect();
  receiver.close();
}
