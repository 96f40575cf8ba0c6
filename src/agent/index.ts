/**
 * The jabmon host agent (docs/agent.md): one XMPP client connection to
 * ejabberd; checks, log and file watchers and a local socket for shell
 * scripts produce results; every result gets the next sequence number and
 * goes into the on-disk spool before anything is sent; the publisher sends
 * the spool to the agent's pubsub node on the component, in order, and an
 * item leaves the spool only when the service has acknowledged it. A status
 * presence to the component summarises the worst current state in words.
 */
import { hostname } from "node:os";
import type { Logger } from "../log/index.js";
import { type AgentStatus, statusPresence } from "../protocol/index.js";
import { assembleClient, keepConnected } from "../xmpp/index.js";
import { buildCheck, type Check, DEFAULT_CHECKS, runCheck, scheduleChecks } from "./checks.js";
import { type AgentConfig, spoolDirOf } from "./config.js";

import { watchFiles } from "./files.js";
import { type Item, itemElement } from "./items.js";
import { watchLog } from "./logs.js";
import { ModuleRunner } from "./modules.js";
import { Publisher, type PublisherStats } from "./publisher.js";
import { registerAgentRpc } from "./rpc.js";
import { startSocketServer } from "./socket.js";
import { Spool } from "./spool.js";
import { type Finding, summarise } from "./status.js";

/** Idle time before the agent's socket sends TCP keepalive probes. */
const TCP_KEEPALIVE_MS = 15_000;

export {
  type AgentConfig,
  agentEnv,
  agentSchema,
  DEFAULT_SPOOL_ROOT,
  loadAgentConfig,
  spoolDirOf,
} from "./config.js";
export { ModuleRunner, type ModuleRunnerOptions } from "./modules.js";
export { parsePerfdata, parsePluginOutput, runPlugin, stateForExit } from "./nagios.js";
export { summarise, worstState } from "./status.js";

export interface RunningAgent {
  /** Spool an item and publish it when possible; returns its sequence number. */
  record(item: Item): number;
  /** Re-evaluate status now and send presence if it changed. */
  refresh(): Promise<void>;
  /** Re-read the configuration and rebuild checks and watchers; returns what was loaded. */
  reload(): Promise<string>;
  readonly stats: PublisherStats;
  /** Resolves true once everything spooled is acknowledged, false after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean>;
  /** The check modules running, as name@version. */
  runningModules(): string[];
  /** Names of every check scheduled (configured and from modules). */
  checkNames(): string[];
  stop(): Promise<void>;
}

const sameStatus = (a: AgentStatus | undefined, b: AgentStatus) =>
  a !== undefined &&
  a.state === b.state &&
  a.summary === b.summary &&
  a.host === b.host &&
  String(a.modules) === String(b.modules) &&
  String(a.groups) === String(b.groups);

interface Producers {
  checks: Check[];
  stop(): Promise<void>;
}

export interface AgentOptions {
  /** Loads the configuration again (from the same file and environment) for reload. */
  reloadConfig?: () => AgentConfig;
}

export async function startAgent(
  config: AgentConfig,
  log: Logger,
  options: AgentOptions = {},
): Promise<RunningAgent> {
  const jid = config.xmpp.jid;
  const component = config.xmpp.component;
  const host = config.host ?? hostname();
  const findings = new Map<string, Finding>();
  /** Findings of passive results relayed through the socket: not configured, kept until replaced. */
  const passiveKeys = new Set<string>();
  // Set once the status machinery below exists; a problem found while opening waits for it.
  let onSpoolProblem: () => void = () => {};
  const spoolDir = spoolDirOf(config);
  const spool = Spool.open({
    dir: spoolDir,
    maxBytes: config.spool.maxBytes,
    maxAgeMs: config.spool.maxAgeS * 1000,
    fsync: config.spool.fsync,
    // A full disk must not stop the agent: it keeps what it spooled, keeps
    // publishing it, says so in its presence, and recovers once there is room.
    onProblem: (problem) => {
      if (problem) {
        log.error(
          { dir: spoolDir, operation: problem.operation, code: problem.code, err: problem.error },
          "spool cannot write",
        );
        findings.set("spool", {
          // Results that cannot be spooled are lost to the monitor: that is critical.
          state: problem.operation === "append" ? "critical" : "warning",
          text: `spool ${spoolDir} cannot write (${problem.code ?? problem.error})`,
        });
      } else {
        log.info({ dir: spoolDir }, "spool writes again");
        findings.delete("spool");
      }
      onSpoolProblem();
    },
  });
  log[spool.recovery.stateProblem ? "warn" : "info"](
    {
      pending: spool.pendingCount,
      nextSeq: spool.nextSeq,
      truncatedBytes: spool.recovery.truncatedBytes,
      stateProblem: spool.recovery.stateProblem,
    },
    spool.recovery.stateProblem
      ? "spool opened from its files (state.json was not usable): unacknowledged results will be re-sent"
      : "spool opened",
  );
  const publisher = new Publisher({
    spool,
    to: component,
    node: `agents/${jid}`,
    window: config.publish.window,
    batch: config.publish.batch,
    timeoutMs: config.publish.timeoutMs,
    log,
  });

  const record = (item: Item): number => {
    const now = Date.now();
    const dropped = spool.dropOverLimits(now);
    if (dropped > 0) {
      log.warn({ dropped }, "spool full: oldest results dropped");
      spool.append(
        (seq) =>
          itemElement(
            {
              kind: "event",
              type: "spool-dropped",
              severity: "warning",
              count: dropped,
              text: `${dropped} result${dropped === 1 ? "" : "s"} dropped: the spool was full while offline`,
            },
            seq,
            now,
          ).toString(),
        now,
      );
    }
    const seq = spool.append((s) => itemElement(item, s, now).toString(), now);
    publisher.kick();
    return seq;
  };

  /** For producers: a spool that cannot be written (disk full) is logged, never thrown into a watcher or timer. */
  const recordQuietly = (item: Item): void => {
    try {
      record(item);
    } catch (err) {
      log.error({ err: (err as Error).message, kind: item.kind }, "cannot spool a result");
    }
  };

  // ---- status presence ------------------------------------------------------
  const xmpp = assembleClient({
    service: config.xmpp.service[0] as string,
    jid,
    password: config.xmpp.password,
    resource: config.xmpp.resource,
    streamManagement: config.xmpp.streamManagement,
    caFile: config.xmpp.caFile,
    insecure: config.xmpp.insecure,
  });
  // TCP keepalive keeps NAT and firewall state alive on an idle link and lets
  // the kernel notice a peer that vanished; the server side finds half-open
  // sessions within 45 s by its XEP-0199 pings (ejabberd.yml, mod_ping).
  xmpp.on("connect", () => {
    const socket = (
      xmpp as unknown as { socket?: { setKeepAlive?(on: boolean, ms: number): void } }
    ).socket;
    socket?.setKeepAlive?.(true, TCP_KEEPALIVE_MS);
  });
  let last: AgentStatus | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  // Check modules pushed by the component (docs/modules.md), on their own scheduler.
  const modules = config.modules.enabled
    ? new ModuleRunner(
        {
          xmpp,
          component,
          jid,
          host,
          // Next to the spool by default: the same disk, cleaned up with it.
          cacheDir: config.modules.cacheDir ?? `${spoolDir}.modules`,
          log: log.child({ part: "modules" }),
          intervalS: config.interval,
          maxOutputBytes: config.plugins.maxOutputBytes,
          onResult: ({ item, summary }) => {
            recordQuietly(item);
            findings.set(`check:${item.name}`, { state: item.state, text: summary });
            refreshSoon();
          },
          onChange: () => {
            pruneFindings();
            refreshSoon();
          },
        },
        { groups: config.groups, trustedKeys: config.trustedKeys },
      )
    : undefined;
  const dependsOn = config.depends_on;
  const status = (): AgentStatus => ({
    ...summarise([...findings.values()], host),
    groups: modules?.groups ?? config.groups,
    modules: modules?.list() ?? [],
    ...(dependsOn.length > 0 ? { dependsOn } : {}),
  });
  const sendStatus = async (s: AgentStatus) => {
    last = s;
    if (xmpp.status !== "online") return;
    // Broadcast presence makes the session "available" to ejabberd, so the
    // component's presence to our bare JID after it restarts reaches us, and
    // admins who have this agent in their roster see its state too. The
    // directed copy is what the component records (docs/protocol.md).
    const broadcast = statusPresence(s, component);
    delete broadcast.attrs.to;
    for (const presence of [broadcast, statusPresence(s, component)]) {
      await xmpp.send(presence).catch((err: Error) => {
        log.warn({ err: err.message }, "cannot send presence");
      });
    }
  };
  const refresh = async () => {
    const s = status();
    if (sameStatus(last, s)) return;
    log.info({ state: s.state, summary: s.summary }, "status changed");
    await sendStatus(s);
  };
  // Many results land together; one presence a second at most.
  const refreshSoon = () => {
    statusTimer ??= setTimeout(() => {
      statusTimer = undefined;
      void refresh();
    }, 1000);
  };
  onSpoolProblem = refreshSoon;

  xmpp.on("stanza", (stanza) => {
    // The component sends us its presence after it reconnects: answer with
    // ours, and replay at once what was in flight to its previous connection.
    if (stanza.is("presence") && stanza.attrs.from === component && !stanza.attrs.type) {
      void sendStatus(last ?? status());
      publisher.componentReturned();
    }
  });
  xmpp.on("offline", () => publisher.offline());
  xmpp.on("disconnect", () => publisher.offline());

  // ---- producers ------------------------------------------------------------
  // Checks and watchers come from the configuration and are rebuilt on reload
  // (RPC agent.reload or SIGHUP); the connection, spool and socket stay.
  const startProducers = async (cfg: AgentConfig): Promise<Producers> => {
    const checks = (cfg.checks ?? DEFAULT_CHECKS).map((def) =>
      buildCheck(def, { intervalS: cfg.interval, maxOutputBytes: cfg.plugins.maxOutputBytes }),
    );
    const scheduler = scheduleChecks(checks, ({ item, summary }) => {
      recordQuietly(item);
      findings.set(`check:${item.name}`, { state: item.state, text: summary });
      refreshSoon();
    });
    const logWatchers = cfg.logs.map((logCfg) =>
      watchLog(logCfg, {
        log,
        onEvent: recordQuietly,
        onProblem: ({ path, error }) => {
          const name = `log:${path}`;
          if (error)
            findings.set(name, { state: "unknown", text: `log ${path} unreadable (${error})` });
          else findings.delete(name);
          recordQuietly({
            kind: "check",
            name: `log:${path}`.slice(0, 64),
            state: error ? "unknown" : "ok",
            output: error ? `cannot read ${path}: ${error}` : `reading ${path}`,
            durationMs: 0,
            metrics: [],
          });
          refreshSoon();
        },
      }),
    );
    const fileWatcher = await watchFiles(cfg.files, { log, onEvent: recordQuietly });
    return {
      checks,
      async stop() {
        scheduler.stop();
        fileWatcher.stop();
        await Promise.all(logWatchers.map((w) => w.stop()));
      },
    };
  };
  let producers = await startProducers(config);
  const allChecks = () => [...producers.checks, ...(modules?.checks() ?? [])];
  /** Findings of checks that no longer exist must not keep the host red. */
  function pruneFindings() {
    const names = new Set(allChecks().map((c) => `check:${c.name}`));
    for (const key of findings.keys())
      if (
        key.startsWith("check:") &&
        !key.startsWith("check:module:") &&
        !names.has(key) &&
        !passiveKeys.has(key)
      )
        findings.delete(key);
  }
  // The cached modules run at once, before (and without) any connection.
  modules?.loadCache();

  /** Re-read the configuration; on an error the running checks stay as they are. */
  const reload = async (): Promise<string> => {
    if (!options.reloadConfig) return "this agent was started without a configuration to reload";
    const next = options.reloadConfig(); // throws ConfigError naming the key: nothing is changed
    await producers.stop();
    producers = await startProducers(next);
    pruneFindings();
    // New groups or keys take effect now: modules are re-targeted without a restart.
    modules?.update({ groups: next.groups, trustedKeys: next.trustedKeys });
    refreshSoon();
    const message = `reloaded: ${producers.checks.length} checks (${producers.checks.map((c) => c.name).join(", ")}), ${next.logs.length} logs, ${next.files.length} watched paths`;
    log.info({ checks: producers.checks.length }, "configuration reloaded");
    return message;
  };

  // Jabber-RPC from the component: run a configured check now (never a command from the wire).
  registerAgentRpc({
    xmpp,
    component,
    log,
    checks: () => allChecks().map((c) => c.name),
    runCheck: async (name) => {
      const check = allChecks().find((c) => c.name === name) as Check;
      const started = Date.now();
      const result = await runCheck(check);
      // An on-demand result is a result like any other: spooled and published.
      recordQuietly(result.item);
      findings.set(`check:${name}`, { state: result.item.state, text: result.summary });
      refreshSoon();
      return {
        state: result.item.state,
        output: result.item.output,
        durationMs: Date.now() - started,
      };
    },
    status: async () => status(),
    reload,
  });

  /** A passive check result counts in the host's status like a scheduled one. */
  const acceptFromSocket = (item: Item): number => {
    const seq = record(item);
    if (item.kind === "check") {
      passiveKeys.add(`check:${item.name}`);
      findings.set(`check:${item.name}`, { state: item.state, text: item.name });
      refreshSoon();
    }
    return seq;
  };

  let socket: { close(): Promise<void> } | undefined;
  if (config.socket.enabled) {
    try {
      socket = await startSocketServer({
        path: config.socket.path,
        mode: config.socket.mode,
        group: config.socket.group,
        log,
        accept: acceptFromSocket,
      });
    } catch (err) {
      // The agent's own checks still matter more than the door for scripts.
      log.error({ path: config.socket.path, err: (err as Error).message }, "socket unavailable");
    }
  }

  // ---- connection -----------------------------------------------------------
  const keeper = keepConnected(xmpp, {
    log,
    services: config.xmpp.service,
    maxDelayMs: config.xmpp.reconnectMaxDelayMs,
    onOnline: () => {
      // A fresh session: the component has seen nothing of it yet.
      void sendStatus(status());
      publisher.online(xmpp);
      modules?.online();
    },
  });
  // Measuring and spooling do not wait for the server; the first connection may come much later.
  void keeper.firstOnline;

  const statusInterval = setInterval(() => void refresh(), config.interval * 1000);
  statusInterval.unref();

  return {
    record,
    refresh,
    reload,
    stats: publisher.stats,
    drained: (timeoutMs) => publisher.drained(timeoutMs),
    runningModules: () => modules?.list() ?? [],
    checkNames: () => allChecks().map((c) => c.name),
    async stop() {
      clearInterval(statusInterval);
      clearTimeout(statusTimer);
      await producers.stop();
      modules?.stop();
      await socket?.close();
      // Give acknowledgements in flight a moment; whatever is left stays in the spool.
      if (xmpp.status === "online" && spool.pendingCount > 0) await publisher.drained(2000);
      publisher.offline();
      await keeper.stop();
      spool.close();
    },
  };
}
