/**
 * The faults of docs/reliability.md, each run while the fleet publishes, each
 * reported as flat figures: results accepted (acknowledged to the agents),
 * lost and doubled (goal 0 each), reordered, and the time to recover.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sleep, waitUntil } from "./harness.mjs";

const seconds = (since) => Math.round((Date.now() - since) / 10) / 100;

/** Publish for a phase, inject `fault`, publish for another phase, then drain and verify. */
async function underLoad(stack, options, fault, { settleMs = 60_000 } = {}) {
  const marks = stack.marks();
  const producer = stack.produce(options.everyMs);
  await sleep(options.phaseMs);
  const faultStart = Date.now();
  await fault();
  const faultS = seconds(faultStart);
  const afterFault = Date.now();
  const onlineS = await stack.waitAllOnline(120_000).catch(() => Number.NaN);
  await sleep(Math.max(0, options.phaseMs - (Date.now() - afterFault)));
  producer.stop();
  const drainStart = Date.now();
  const drained = await stack.drained(120_000);
  const totals = await stack.verify(marks, settleMs);
  return {
    ...totals,
    fault_s: faultS,
    recover_s: Math.round(onlineS * 100) / 100,
    drain_s: seconds(drainStart),
    all_drained: drained,
  };
}

export const SCENARIOS = {
  /** 1. kill -9 the component mid-stream, restart it. */
  "component-kill": (stack, options) =>
    underLoad(stack, options, async () => {
      await stack.killComponent();
      await stack.startComponent();
    }),

  /**
   * Scale-out: kill -9 one of several components under load and leave it
   * dead while the fleet keeps publishing: its leased shards move to the
   * survivors. `resume_s`: until everything recorded at the kill is applied.
   */
  "component-failover": async (stack, options) => {
    const victim = stack.components.length - 1;
    if (victim < 1) throw new Error("component-failover needs at least two components");
    let resumeS = Number.NaN;
    const figures = await underLoad(stack, options, async () => {
      await stack.killComponent(victim);
      resumeS = await stack.caughtUp(60_000);
    });
    await stack.startComponent(victim);
    return { ...figures, resume_s: Math.round(resumeS * 100) / 100 };
  },

  /**
   * Scale-out: stop one ejabberd node of a cluster under load; its agents
   * move to another node (their server list) and replay their spools.
   */
  "node-stop": async (stack, options) => {
    const node = stack.nodes[stack.nodes.length - 1];
    if (stack.nodes.length < 2) throw new Error("node-stop needs a cluster of at least two nodes");
    let movedS = Number.NaN;
    const figures = await underLoad(stack, options, async () => {
      await node.stop();
      movedS = await stack.caughtUp(120_000);
    });
    await node.start();
    return { ...figures, moved_and_caught_up_s: Math.round(movedS * 100) / 100 };
  },

  /** 2. Restart ejabberd: every session drops at once; agents reconnect with backoff and jitter. */
  "ejabberd-restart": (stack, options) =>
    underLoad(stack, options, async () => {
      await Promise.all(stack.nodes.map((node) => node.restart()));
    }),

  /** 3. kill -9 Redis and restart it from its AOF. */
  "redis-kill": (stack, options) =>
    underLoad(stack, options, async () => {
      await stack.redis.kill();
      await stack.redis.start();
    }),

  /**
   * The control: Redis killed and restarted without persistence. The harness
   * must report the loss (it is not vacuous); never part of the bench's totals.
   */
  "control-redis-without-aof": (stack, options) =>
    underLoad(
      stack,
      options,
      async () => {
        await stack.redis.kill();
        await stack.redis.start({ persistent: false });
      },
      { settleMs: 5000 },
    ),

  /** 4. Every agent offline while it spools `offlineResults` results, then back: all replayed. */
  "agents-offline": async (stack, options) => {
    const marks = stack.marks();
    for (const agent of stack.agents) agent.relay.mode = "offline";
    await waitUntil(async () => (await stack.connected()) === 0, 60_000, "every agent seen offline", 250);
    stack.recordBurst(options.offlineResults);
    const batchesBefore = stack.agents.reduce((n, a) => n + a.running.stats.batches, 0);
    const back = Date.now();
    const cpuAtBack = stack.cpuSample();
    for (const agent of stack.agents) agent.relay.mode = "online";
    const onlineS = await stack.waitAllOnline(120_000).catch(() => Number.NaN);
    const drained = await stack.drained(120_000);
    // Every agent was told all its results were accepted: the goal's figure.
    const replayedS = seconds(back);
    const cpu = stack.cpuSince(cpuAtBack);
    const totals = await stack.verify(marks, 120_000);
    return {
      ...totals,
      spooled: options.offlineResults * stack.agents.length,
      recover_s: Math.round(onlineS * 100) / 100,
      replayed_all_s: replayedS,
      // Until the monitor had applied them all (verify polls every 0.5 s).
      applied_all_s: seconds(back),
      // CPU seconds each process spent from the return to the last acknowledgement.
      ...cpu,
      // <results/> requests the agents sent for it (docs/protocol.md, "Replaying a backlog").
      batch_requests: stack.agents.reduce((n, a) => n + a.running.stats.batches, 0) - batchesBefore,
      all_drained: drained,
    };
  },

  /**
   * 5. One agent partitioned (bytes stop both ways, the connection stays
   * open): the host must go stale within the monitor's staleMs, and come back
   * cleanly when the partition heals.
   */
  partition: async (stack, options) => {
    const agent = stack.agents[0];
    const marks = stack.marks();
    const producer = stack.produce(options.everyMs);
    await sleep(1000);
    const cut = Date.now();
    agent.relay.mode = "partitioned";
    const host = async () =>
      (await (await fetch(`${stack.url}/api/hosts?q=${agent.user}`)).json()).find((h) => h.jid === agent.jid);
    let detectS = Number.NaN;
    try {
      detectS = await waitUntil(async () => (await host())?.online === false, options.staleMs * 2 + 60_000, "the partitioned host down", 250);
    } catch {}
    const healed = Date.now();
    agent.relay.mode = "online";
    let backS = Number.NaN;
    try {
      backS = await waitUntil(async () => (await host())?.online === true, 120_000, "the healed host up", 250);
    } catch {}
    producer.stop();
    const drained = await stack.drained(120_000);
    const totals = await stack.verify(marks, 60_000);
    return {
      ...totals,
      detect_stale_s: Math.round(detectS * 100) / 100,
      stale_ms_configured: options.staleMs,
      partition_s: Math.round((healed - cut) / 10) / 100,
      back_online_s: Math.round(backS * 100) / 100,
      all_drained: drained,
    };
  },

  /**
   * 6. The agent's spool directory fills the disk while the agent is offline:
   * the agent keeps running, refuses what it cannot spool, and loses nothing
   * it had spooled. Needs root (a small tmpfs is mounted for the spool).
   */
  "disk-full": async (stack, options) => {
    void options;
    return diskFull(stack, stack.agents[stack.agents.length - 1]);
  },
};

async function diskFull(stack, agent) {
  const mount = join(stack.spoolRoot, "full");
  mkdirSync(mount, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mount]);
  try {
    // The agent under test is restarted with its spool on the tmpfs, taken
    // offline, and fed until the disk is full.
    await stack.restartAgent(agent, { spool: { dir: join(mount, "spool") } });
    agent.relay.mode = "offline";
    const marks = stack.marks();
    const filler = join(mount, "filler");
    const free = statfsSync(mount);
    writeFileSync(filler, Buffer.alloc(Math.max(0, free.bavail * free.bsize - 64 * 1024)));
    let refused = 0;
    let spooled = 0;
    for (let n = 0; n < 5000 && refused < 50; n++) {
      try {
        const seq = agent.running.record({
          kind: "event",
          type: "message",
          severity: "info",
          text: `d${n} `.repeat(20),
        });
        agent.recorded.push(seq);
        spooled += 1;
      } catch {
        refused += 1;
      }
    }
    await sleep(1500); // the spool's state-save timer runs on a full disk
    rmSync(filler);
    agent.relay.mode = "online";
    const drained = await agent.running.drained(60_000);
    const totals = await stack.verify(marks, 60_000, [agent]);
    return {
      ...totals,
      spooled_before_full: spooled,
      refused_when_full: refused,
      all_drained: drained,
    };
  } finally {
    await stack.restartAgent(agent, {}).catch(() => {});
    try {
      execFileSync("umount", ["-l", mount]);
    } catch {}
  }
}

export async function runScenario(stack, name, options) {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`unknown scenario ${name}: one of ${Object.keys(SCENARIOS).join(", ")}`);
  return scenario(stack, options);
}
