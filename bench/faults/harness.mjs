/**
 * The fault-injection harness (issue 13; docs/reliability.md): a whole
 * jabmon system on real processes, a fleet of real agents, and the faults an
 * operator meets in production, injected while the fleet publishes.
 *
 * - Redis is a private `redis-server` with AOF, so it can be `kill -9`ed and
 *   restarted from its log; ejabberd is a private node; the component is a
 *   `jabmon component` child process, so it can be `kill -9`ed too.
 * - Agents are the real agent code (`startAgent`: spool on disk, publisher,
 *   presence, reconnect with backoff and jitter) run in this process, one XMPP
 *   session each, without checks: the harness records the results. Each agent
 *   reaches ejabberd through its own TCP relay, so the harness can take one
 *   agent or all of them off the network, or black-hole one connection
 *   (packets dropped, connection not closed) as a network partition does.
 * - Verification, agent by agent: every result an agent spooled and was told
 *   was accepted (its spool drained) must be in the monitor's applied events,
 *   exactly once, in the agent's order. The monitor's event list holds each
 *   applied event with its agent seq.
 *
 * Used by `npm run bench:faults` (bench/faults.mjs) and, with a small fleet,
 * by test/e2e/faults.test.ts.
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { performance } from "node:perf_hooks";
import { join } from "node:path";
import { cpuSeconds, dist, rssMb, sleep, waitUntil } from "../lib/run.mjs";

const { freePort, generateSelfSignedCert, PrivateCluster, PrivateEjabberd } = await import(dist("stack/index.js"));
const { createRedis, deletePrefix, Keys } = await import(dist("store/index.js"));
const { silentLogger, createLogger } = await import(dist("log/index.js"));
const { registerAccount } = await import(dist("xmpp/index.js"));
const { agentSchema, startAgent } = await import(dist("agent/index.js"));

// scenarios.mjs and the e2e tests take these from here.
export { rssMb, sleep, waitUntil };

// ---------------------------------------------------------------- Redis with AOF

/** A private redis-server with its AOF in `dir`; `kill()` is kill -9, `start()` recovers from the AOF. */
export class PrivateRedis {
  constructor(port, dir, appendfsync) {
    this.port = port;
    this.dir = dir;
    this.appendfsync = appendfsync;
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async create({ appendfsync = "everysec" } = {}) {
    const dir = mkdtempSync(join(tmpdir(), "jabmon-faults-redis-"));
    return new PrivateRedis(await freePort(), dir, appendfsync);
  }

  /** `persistent: false` starts it as the demo once did: no AOF, nothing kept across a kill. */
  async start({ persistent = true } = {}) {
    if (!persistent) {
      rmSync(this.dir, { recursive: true, force: true });
      mkdirSync(this.dir, { recursive: true });
    }
    this.process = spawn(
      "redis-server",
      [
        "--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir,
        "--appendonly", persistent ? "yes" : "no", "--appendfsync", this.appendfsync, "--save", "",
        "--protected-mode", "no", "--loglevel", "warning",
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    const probe = createRedis(this.url, silentLogger());
    try {
      await waitUntil(async () => (await probe.ping().catch(() => "")) === "PONG", 30_000, "redis");
      // Loading a large AOF answers LOADING errors until done; PING passes only after.
    } finally {
      probe.disconnect();
    }
  }

  kill() {
    const exited = new Promise((r) => this.process.once("exit", r));
    this.process.kill("SIGKILL");
    return exited;
  }

  async destroy() {
    if (this.process && this.process.exitCode === null && this.process.signalCode === null) await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- relays

/**
 * A TCP relay in front of ejabberd's c2s port for one agent. `online` (the
 * default) relays bytes; `offline` closes the relayed connections and refuses
 * new ones (the host's network is down); `partitioned` keeps every connection
 * open and stops moving bytes either way (no FIN, no RST): what each side
 * sends waits, as it would in TCP retransmissions, until the partition heals.
 */
class Relay {
  #mode = "online";
  #pairs = new Set();

  constructor(upstreamPort) {
    this.upstreamPort = upstreamPort;
    this.server = createServer((client) => this.#accept(client));
  }

  async listen() {
    await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = this.server.address().port;
  }

  #accept(client) {
    if (this.#mode !== "online") return client.destroy();
    const upstream = tcpConnect(this.upstreamPort, "127.0.0.1");
    const pair = { client, upstream };
    this.#pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", close).on("error", close);
    upstream.on("close", close).on("error", close);
  }

  set mode(mode) {
    this.#mode = mode;
    for (const pair of this.#pairs) {
      if (mode === "offline") {
        pair.client.destroy();
        pair.upstream.destroy();
      } else if (mode === "partitioned") {
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.client.pause();
        pair.upstream.pause();
      } else {
        pair.client.pipe(pair.upstream);
        pair.upstream.pipe(pair.client);
      }
    }
  }

  get mode() {
    return this.#mode;
  }

  close() {
    this.mode = "offline";
    this.server.close();
  }
}

/** One relay per ejabberd node for an agent; `mode` applies to all (the host's network). */
class Relays {
  constructor(relays) {
    this.list = relays;
  }

  set mode(mode) {
    for (const relay of this.list) relay.mode = mode;
  }

  get mode() {
    return this.list[0].mode;
  }

  close() {
    for (const relay of this.list) relay.close();
  }
}

// ---------------------------------------------------------------- the stack

export class FaultStack {
  prefix = `jabmon-faults:${randomUUID()}:`;
  componentJid = "monitor.localhost";
  agents = [];
  /** Component child processes, each `{ process, node, httpPort }`. */
  components = [];
  #log = silentLogger();

  constructor(options) {
    this.options = options;
  }

  /**
   * options: agents (count), nodes (ejabberd nodes, clustered when > 1),
   * components (processes on the one component JID, spread over the nodes),
   * appendfsync, staleMs, componentEnv (extra), agentConfig(i), connectBatch, say,
   * pings ({ intervalS, ackTimeoutS }: ejabberd's mod_ping kills unanswered sessions).
   */
  static async start(options) {
    const stack = new FaultStack(options);
    try {
      await stack.#start();
    } catch (err) {
      await stack.destroy().catch(() => {});
      throw err;
    }
    return stack;
  }

  async #start() {
    const { agents: count = 200, nodes = 1, components = 1, appendfsync = "everysec" } = this.options;
    const say = this.options.say ?? (() => {});
    this.say = say;
    this.redis = await PrivateRedis.create({ appendfsync });
    await this.redis.start();
    const componentPassword = randomBytes(12).toString("hex");
    // One self-signed certificate for every node: an agent that fails over trusts them all.
    this.tlsDir = mkdtempSync(join(tmpdir(), "jabmon-faults-tls-"));
    this.tls = await generateSelfSignedCert(this.tlsDir, ["localhost", "*.localhost", "127.0.0.1"]);
    if (nodes > 1) {
      this.cluster = await PrivateCluster.create({ name: "faults", nodes, componentPassword, maxOpenFiles: 16_000, tls: this.tls });
      this.nodes = this.cluster.nodes;
      say(`ejabberd cluster of ${nodes} nodes`);
      await this.cluster.start();
    } else {
      const node = await PrivateEjabberd.create({
        name: "faults",
        c2sPort: await freePort(),
        componentPort: await freePort(),
        componentPassword,
        maxOpenFiles: 16_000,
        tls: this.tls,
        ...(this.options.pings ? { pings: this.options.pings } : {}),
      });
      this.nodes = [node];
      say(`ejabberd in ${node.dir}`);
      await node.start();
    }
    this.ejabberd = this.nodes[0];
    for (let k = 0; k < components; k++) {
      this.components.push({ node: this.nodes[k % nodes], httpPort: await freePort() });
      await this.startComponent(k);
    }
    this.keys = new Keys(this.prefix);
    this.spoolRoot = mkdtempSync(join(tmpdir(), "jabmon-faults-agents-"));
    const password = randomBytes(8).toString("hex");
    say(`starting ${count} agents`);
    const batch = this.options.connectBatch ?? 25;
    for (let i = 0; i < count; i += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, count - i) }, (_, j) => this.#startAgent(i + j, password)),
      );
    }
    await this.waitAllOnline(120_000);
  }

  /** The status page of the first component that answers. */
  get url() {
    const live = this.components.find((c) => c.process && c.process.exitCode === null && c.process.signalCode === null);
    return `http://127.0.0.1:${(live ?? this.components[0]).httpPort}`;
  }

  componentEnv(k = 0) {
    const { node, httpPort } = this.components[k];
    return {
      ...process.env,
      JABMON_LOG_LEVEL: process.env.JABMON_FAULTS_COMPONENT_LOG ?? "warn",
      JABMON_COMPONENT_SERVICE: node.componentService,
      JABMON_COMPONENT_JID: this.componentJid,
      JABMON_COMPONENT_PASSWORD: node.config.componentPassword,
      JABMON_REDIS_URL: this.redis.url,
      JABMON_REDIS_PREFIX: this.prefix,
      JABMON_HTTP_PORT: String(httpPort),
      ...(this.options.staleMs ? { JABMON_STALE_MS: String(this.options.staleMs) } : {}),
      ...(this.options.componentEnv ?? {}),
    };
  }

  async startComponent(k = 0) {
    const component = this.components[k];
    // e.g. JABMON_FAULTS_COMPONENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
    const nodeArgs = (process.env.JABMON_FAULTS_COMPONENT_NODE_ARGS ?? "").split(" ").filter(Boolean);
    component.process = spawn(process.execPath, [...nodeArgs, dist("cli/main.js"), "component"], {
      env: this.componentEnv(k),
      stdio: ["ignore", "ignore", "inherit"],
    });
    const url = `http://127.0.0.1:${component.httpPort}`;
    await waitUntil(async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok, 60_000, `component ${k}`);
  }

  /** kill -9 component `k`. */
  killComponent(k = 0) {
    const { process: child } = this.components[k];
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    return exited;
  }

  get component() {
    return this.components[0].process;
  }

  async #startAgent(i, password) {
    const user = `fault${i}`;
    await registerAccount(this.ejabberd.c2sService, "localhost", user, password, { caFile: this.tls.certFile });
    // Agent i prefers node i mod N and fails over to the next ones.
    const order = this.nodes.map((_, n) => this.nodes[(i + n) % this.nodes.length]);
    const relays = order.map((node) => new Relay(node.config.c2sPort));
    for (const relay of relays) await relay.listen();
    const agent = { i, user, jid: `${user}@localhost`, password, relay: new Relays(relays), recorded: [] };
    agent.running = await this.#runAgent(agent, {});
    this.agents[i] = agent;
  }

  /** Stops `agent` and starts it again with `overrides` merged into its configuration. */
  async restartAgent(agent, overrides) {
    await agent.running.stop();
    agent.running = await this.#runAgent(agent, overrides);
  }

  async #runAgent({ i, user, password, relay }, overrides) {
    const dir = join(this.spoolRoot, user);
    mkdirSync(dir, { recursive: true });
    const parsed = agentSchema.safeParse({
      xmpp: {
        service: relay.list.map((r) => `xmpp://127.0.0.1:${r.port}`),
        jid: `${user}@localhost`,
        password,
        component: this.componentJid,
        caFile: this.tls.certFile,
        // Short enough that a restart's reconnect storm is measured in seconds, jittered.
        reconnectMaxDelayMs: 5_000,
      },
      host: user,
      interval: 3600,
      checks: [],
      spool: { dir: join(dir, "spool"), ...(this.options.spool ?? {}) },
      socket: { enabled: false },
      publish: { timeoutMs: 10_000 },
      ...(this.options.agentConfig?.(i) ?? {}),
      ...overrides,
    });
    if (!parsed.success) throw new Error(`agent config: ${JSON.stringify(parsed.error.issues)}`);
    const level = process.env.JABMON_FAULTS_AGENT_LOG;
    return startAgent(parsed.data, level ? createLogger(user, level) : this.#log);
  }

  /**
   * CPU seconds used so far by each process of the system: this one (the
   * agents and their relays), the components, ejabberd's nodes and Redis, and
   * this process's event-loop utilisation. On a shared machine the wall time
   * of a scenario moves with the neighbours' load; what each process spent
   * does not, and shows which one the time goes to. `cpuSince(earlier)` gives
   * the differences.
   */
  cpuSample() {
    const self = process.cpuUsage();
    const beamPid = (node) => {
      try {
        return Number(readFileSync(join(node.dir, "spool", "ejabberd.pid"), "utf8").trim());
      } catch {
        return undefined;
      }
    };
    const sum = (pids) => pids.reduce((total, pid) => total + (pid ? cpuSeconds(pid) : 0), 0);
    return {
      agents: (self.user + self.system) / 1e6,
      component: sum(this.components.map((c) => c.process?.pid)),
      ejabberd: sum(this.nodes.map(beamPid)),
      redis: sum([this.redis.process?.pid]),
      loop: performance.eventLoopUtilization(),
    };
  }

  /** CPU seconds per process since `earlier` (a cpuSample), and the agents' event-loop utilisation. */
  cpuSince(earlier) {
    const now = this.cpuSample();
    const round = (v) => Math.round(v * 100) / 100;
    return {
      cpu_agents_s: round(now.agents - earlier.agents),
      cpu_component_s: round(now.component - earlier.component),
      cpu_ejabberd_s: round(now.ejabberd - earlier.ejabberd),
      cpu_redis_s: round(now.redis - earlier.redis),
      agents_loop_busy: round(performance.eventLoopUtilization(now.loop, earlier.loop).utilization),
    };
  }

  componentRssMb(k = 0) {
    return rssMb(this.components[k].process.pid);
  }

  /** Hosts the component counts as connected. */
  async connected() {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    return Number(/^jabmon_agents_connected(?:\{[^}]*\})? ([0-9.e+-]+)$/m.exec(text)?.[1] ?? Number.NaN);
  }

  async waitAllOnline(timeoutMs, expected = this.agents.length) {
    return waitUntil(async () => (await this.connected().catch(() => -1)) >= expected, timeoutMs, "every agent online", 250);
  }

  /** Stops `agent` for good (its host is gone): it is left out of produce() and verify(). */
  async removeAgent(agent) {
    agent.removed = true;
    await agent.running.stop();
    agent.relay.close();
    this.agents = this.agents.filter((a) => a !== agent);
    this.removed = [...(this.removed ?? []), agent];
  }

  /** Every agent records one event each `everyMs` (staggered) until `stop()` is called. */
  produce(everyMs) {
    const timers = this.agents.map((agent, k) => {
      const tick = () => {
        if (agent.removed) return; // stopped for good (removeAgent)
        const seq = agent.running.record({ kind: "event", type: "message", severity: "info", text: `r${agent.recorded.length}` });
        agent.recorded.push(seq);
      };
      let interval;
      const start = setTimeout(() => {
        tick();
        interval = setInterval(tick, everyMs);
      }, (k * everyMs) / this.agents.length);
      return () => {
        clearTimeout(start);
        clearInterval(interval);
      };
    });
    return { stop: () => timers.forEach((stop) => stop()) };
  }

  /** `count` events per agent at once (results spooled while offline). */
  recordBurst(count) {
    for (const agent of this.agents)
      for (let n = 0; n < count; n++) {
        const seq = agent.running.record({ kind: "event", type: "message", severity: "info", text: `b${n}` });
        agent.recorded.push(seq);
      }
  }

  /** Resolves when every agent's spool is empty: all it recorded was acknowledged. */
  async drained(timeoutMs) {
    const results = await Promise.all(this.agents.map((a) => a.running.drained(timeoutMs)));
    return results.every(Boolean);
  }

  /** The agent seqs the monitor applied for `agent`, oldest first (from its event list). */
  async applied(redis, agent) {
    const raw = await redis.lrange(this.keys.events(agent.jid), 0, -1);
    return raw.map((r) => JSON.parse(r).seq).reverse();
  }

  /**
   * Compares, agent by agent, the seqs recorded since `marks` (agent → number
   * recorded before) with what the monitor applied: lost, doubled, reordered.
   * Waits up to `timeoutMs` for the monitor to apply everything first.
   */
  async verify(marks, timeoutMs, agents = this.agents) {
    const redis = createRedis(this.redis.url, silentLogger());
    try {
      const compare = async () => {
        const totals = { accepted: 0, applied: 0, lost: 0, doubled: 0, reordered: 0, agents_with_loss: 0 };
        for (const agent of agents) {
          const expected = agent.recorded.slice(marks.get(agent) ?? 0);
          const first = expected[0];
          const got = first === undefined ? [] : (await this.applied(redis, agent)).filter((s) => s >= first);
          const seen = new Set(got);
          totals.accepted += expected.length;
          totals.applied += got.length;
          totals.doubled += got.length - seen.size;
          const lost = expected.filter((s) => !seen.has(s)).length;
          totals.lost += lost;
          if (lost > 0) totals.agents_with_loss += 1;
          for (let k = 1; k < got.length; k++) if (got[k] < got[k - 1]) totals.reordered += 1;
        }
        return totals;
      };
      let totals;
      try {
        await waitUntil(async () => {
          totals = await compare();
          return totals.lost === 0 && totals.doubled === 0;
        }, timeoutMs, "the monitor to apply every accepted result", 500);
      } catch {
        // Report what is missing rather than throw: the figures are the finding.
      }
      return totals;
    } finally {
      redis.disconnect();
    }
  }

  /**
   * Seconds until the monitor has applied, for every agent, the last result
   * it had recorded when this was called (processing caught up past a fault).
   */
  async caughtUp(timeoutMs) {
    const lastSeqs = this.agents.map((a) => a.recorded[a.recorded.length - 1]);
    const redis = createRedis(this.redis.url, silentLogger());
    const waiting = new Set(this.agents.filter((a, k) => lastSeqs[k] !== undefined));
    try {
      return await waitUntil(
        async () => {
          for (const agent of [...waiting]) {
            const newest = await redis.lindex(this.keys.events(agent.jid), 0).catch(() => null);
            if (newest && JSON.parse(newest).seq >= lastSeqs[agent.i]) waiting.delete(agent);
          }
          return waiting.size === 0;
        },
        timeoutMs,
        "processing to catch up",
        100,
      );
    } catch {
      return Number.NaN;
    } finally {
      redis.disconnect();
    }
  }

  marks() {
    return new Map(this.agents.map((a) => [a, a.recorded.length]));
  }

  async destroy() {
    this.agents.push(...(this.removed ?? []));
    this.removed = [];
    await Promise.all(this.agents.map((a) => a?.running.stop().catch(() => {})));
    for (const a of this.agents) a?.relay.close();
    await Promise.all(
      this.components.map(async ({ process: child }) => {
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, sleep(10_000)]);
      }),
    );
    if (this.cluster) await this.cluster.destroy();
    else await this.ejabberd?.destroy().catch(() => {});
    await this.redis?.destroy().catch(() => {});
    if (this.spoolRoot) rmSync(this.spoolRoot, { recursive: true, force: true });
    if (this.tlsDir) rmSync(this.tlsDir, { recursive: true, force: true });
  }
}
