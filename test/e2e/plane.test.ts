/**
 * Issue 17: when the monitoring plane itself restarts, one alert, not one per
 * host. A fleet of real agents (bench/faults/harness.mjs: real ejabberd, a
 * private Redis with AOF, the component as a child process) goes through an
 * ejabberd restart, a component kill, a Redis restart, a half-open partition
 * and an ejabberd restart during which some hosts die for good. Alerts are
 * observed where operators get them: a webhook receiver.
 *
 * Shorter settings than production, to keep the run short (docs/monitor.md):
 * reconnect grace 20 s (production 60 s; the harness agents' reconnectMaxDelayMs
 * is 5 s instead of 30 s), mod_ping 10 s + 5 s (production 30 s + 15 s).
 * JABMON_PLANE_AGENTS sets the fleet (default 200).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: the harness is plain JavaScript shared with the benchmark.
import { FaultStack, sleep, waitUntil } from "../../bench/faults/harness.mjs";

const AGENTS = Number(process.env.JABMON_PLANE_AGENTS ?? 200);
const GRACE_MS = 20_000;
const MASS_WINDOW_MS = 10_000;
const STALE_MS = 180_000;

interface Hook {
  alert: { kind: string; state: string; jid: string; check: string; text: string };
  message: string;
  /** When the webhook got it (ms). */
  at: number;
}
interface Agent {
  jid: string;
  user: string;
  relay: { mode: string };
  recorded: number[];
}
interface Stack {
  agents: Agent[];
  url: string;
  redis: { kill(): Promise<void>; start(): Promise<void> };
  ejabberd: { restart(): Promise<void> };
  marks(): Map<Agent, number>;
  produce(everyMs: number): { stop(): void };
  drained(timeoutMs: number): Promise<boolean>;
  verify(marks: Map<Agent, number>, timeoutMs: number): Promise<Record<string, number>>;
  waitAllOnline(timeoutMs: number, expected?: number): Promise<number>;
  killComponent(k?: number): Promise<void>;
  startComponent(k?: number): Promise<void>;
  removeAgent(agent: Agent): Promise<void>;
  destroy(): Promise<void>;
}

let stack: Stack;
let server: Server;
const hooks: Hook[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      hooks.push({ ...(JSON.parse(body) as Hook), at: Date.now() });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  stack = await FaultStack.start({
    agents: AGENTS,
    staleMs: STALE_MS,
    pings: { intervalS: 10, ackTimeoutS: 5 },
    componentEnv: {
      JABMON_ALERT_WEBHOOK: `http://127.0.0.1:${port}/hook`,
      JABMON_PLANE_GRACE_MS: String(GRACE_MS),
      JABMON_PLANE_MASS_WINDOW_MS: String(MASS_WINDOW_MS),
    },
  });
}, 300_000);
afterAll(async () => {
  await stack?.destroy();
  server?.close();
}, 120_000);

const plane = (state: string) =>
  hooks.filter((h) => h.alert.kind === "plane" && h.alert.state === state);
const hostDowns = () => hooks.filter((h) => h.alert.kind === "host" && h.alert.state === "down");

/**
 * Runs `fault` while the fleet publishes; waits for the plane's recovery and
 * then past the grace (and the mass window), when any held down alert would
 * have gone out. Returns the figures of the run.
 */
async function planeFault(fault: () => Promise<void>, expectedOnline = stack.agents.length) {
  hooks.length = 0;
  const marks = stack.marks();
  const producer = stack.produce(1000);
  let onlineS: number;
  let faultEnd: number;
  try {
    await sleep(2000);
    await fault();
    faultEnd = Date.now();
    onlineS = await stack.waitAllOnline(120_000, expectedOnline);
    await waitUntil(() => plane("recovered").length > 0, 90_000, "the plane's recovered alert");
    await sleep(GRACE_MS + MASS_WINDOW_MS + 4000);
  } finally {
    producer.stop();
  }
  const drained = await stack.drained(120_000);
  const totals = await stack.verify(marks, 60_000);
  return { onlineS, faultEnd, drained, totals };
}

function expectOneIncident(figures: Awaited<ReturnType<typeof planeFault>>) {
  expect(plane("degraded").map((h) => h.message)).toHaveLength(1);
  expect(plane("recovered").map((h) => h.message)).toHaveLength(1);
  // The cause seen first names it: the link, or the wave of unavailable presences before it.
  expect(plane("degraded")[0]?.message).toMatch(
    /^PROBLEM: monitoring degraded: .*\d+ (of \d+ )?hosts/,
  );
  expect(figures.onlineS * 1000).toBeLessThan(GRACE_MS);
  expect(figures.drained).toBe(true);
  expect(figures.totals.accepted).toBeGreaterThan(0);
  expect({ lost: figures.totals.lost, doubled: figures.totals.doubled }).toEqual({
    lost: 0,
    doubled: 0,
  });
}

describe(`the monitoring plane restarts under ${AGENTS} agents`, { timeout: 300_000 }, () => {
  it("an ejabberd restart gives one degraded and one recovered alert, no host-down alert", async () => {
    const figures = await planeFault(() => stack.ejabberd.restart());
    expectOneIncident(figures);
    expect(hostDowns().map((h) => h.alert.jid)).toEqual([]);
  });

  it("a component killed with SIGKILL and restarted: one incident, no host-down alert", async () => {
    const figures = await planeFault(async () => {
      await stack.killComponent();
      await stack.startComponent();
    });
    expectOneIncident(figures);
    expect(plane("degraded")[0]?.alert.check).toBe("restart");
    expect(hostDowns().map((h) => h.alert.jid)).toEqual([]);
  });

  it("Redis killed and restarted from its AOF: one incident, no host-down alert", async () => {
    const figures = await planeFault(async () => {
      await stack.redis.kill();
      await sleep(1000);
      await stack.redis.start();
    });
    expectOneIncident(figures);
    expect(plane("degraded")[0]?.alert.check).toBe("redis");
    expect(hostDowns().map((h) => h.alert.jid)).toEqual([]);
  });

  it("finds a half-open host within 60 s by ejabberd's pings although staleMs is 180 s", async () => {
    hooks.length = 0;
    const agent = stack.agents[0] as Agent;
    const host = async () =>
      (
        (await (await fetch(`${stack.url}/api/hosts?q=${agent.user}`)).json()) as Array<{
          jid: string;
          online: boolean;
        }>
      ).find((h) => h.jid === agent.jid);
    await waitUntil(async () => (await host())?.online === true, 30_000, "host online");
    agent.relay.mode = "partitioned";
    const detectS = await waitUntil(async () => (await host())?.online === false, 90_000, "down");
    expect(detectS).toBeLessThan(60);
    // One host is no plane event: its own alert, after the mass window.
    await waitUntil(() => hostDowns().length > 0, 30_000, "the partitioned host's alert");
    expect(hostDowns().map((h) => h.alert.jid)).toEqual([agent.jid]);
    expect(plane("degraded")).toEqual([]);
    agent.relay.mode = "online";
    await waitUntil(async () => (await host())?.online === true, 60_000, "healed host online");
  });

  it("hosts dead for good during an ejabberd restart are alerted after the grace, and only they", async () => {
    await stack.waitAllOnline(60_000);
    const doomed = stack.agents.slice(-Math.max(1, Math.round(AGENTS / 10)));
    const doomedJids = doomed.map((a) => a.jid).sort();
    const survivors = stack.agents.length - doomed.length;
    const figures = await planeFault(async () => {
      await Promise.all([
        stack.ejabberd.restart(),
        ...doomed.map(async (agent) => {
          agent.relay.mode = "offline";
          await stack.removeAgent(agent);
        }),
      ]);
    }, survivors);
    expectOneIncident(figures);
    await waitUntil(() => hostDowns().length >= doomed.length, 30_000, "the doomed hosts' alerts");
    await sleep(2000);
    const alerted = hostDowns().map((h) => h.alert.jid);
    expect(alerted.sort()).toEqual(doomedJids);
    // Held through the incident and the grace after its recovery, not sent at once.
    const recovered = plane("recovered")[0] as Hook;
    for (const down of hostDowns()) expect(down.at).toBeGreaterThan(recovered.at + GRACE_MS - 2000);
  });
});
