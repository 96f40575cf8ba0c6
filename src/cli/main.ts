#!/usr/bin/env node
/**
 * The `jabmon` command.
 */
import { Command } from "commander";
import {
  adminbotEnv,
  adminbotSchema,
  ConfigError,
  componentEnv,
  componentSchema,
  loadConfig,
} from "../config/index.js";
import { createLogger } from "../log/index.js";
import { VERSION } from "../version.js";
import { registerAccount } from "../xmpp/index.js";
import { fail, stopOnSignal } from "./run.js";

const program = new Command("jabmon")
  .description("System monitoring over XMPP")
  .version(VERSION)
  .showHelpAfterError();

program
  .command("component")
  .description("run the XEP-0114 component: pubsub, disco, monitor and the HTTP status page")
  .option("-c, --config <file>", "YAML or JSON config file (JABMON_* variables override it)")
  .action(async (options: { config?: string }) => {
    const config = loadConfig(componentSchema, { file: options.config, envMap: componentEnv });
    const { startComponent } = await import("../server/index.js");
    const running = await startComponent(config, createLogger("jabmon-component"));
    stopOnSignal(() => running.stop());
  });

program
  .command("agent")
  .description("run the host agent: one XMPP connection, status presence to the component")
  .option(
    "-c, --config <file>",
    "YAML or JSON config file (default $JABMON_AGENT_CONFIG; JABMON_AGENT_* variables override it)",
  )
  .action(async (options: { config?: string }) => {
    const { loadAgentConfig, startAgent } = await import("../agent/index.js");
    const file = options.config ?? process.env.JABMON_AGENT_CONFIG;
    const log = createLogger("jabmon-agent");
    const running = await startAgent(loadAgentConfig(file), log, {
      reloadConfig: () => loadAgentConfig(file),
    });
    // SIGHUP reloads, as operators expect of a daemon; a bad file is logged and changes nothing.
    process.on("SIGHUP", () => {
      running.reload().catch((err: Error) => log.error({ err: err.message }, "reload failed"));
    });
    stopOnSignal(() => running.stop());
  });

program
  .command("adminbot")
  .description("run the AdminBot: chat commands (one to one or in MUC rooms) turned into RPC calls")
  .option(
    "-c, --config <file>",
    "YAML or JSON config file (JABMON_ADMINBOT_* variables override it)",
  )
  .action(async (options: { config?: string }) => {
    const config = loadConfig(adminbotSchema, { file: options.config, envMap: adminbotEnv });
    const { startAdminBot } = await import("../adminbot/index.js");
    const running = await startAdminBot(config, createLogger("jabmon-adminbot"));
    stopOnSignal(() => running.stop());
  });

// ---- shell commands: talk to the running agent through its local socket (docs/agent.md) ----
const socketOption = "--socket <path>";
const socketHelp = "the agent's socket (default $JABMON_AGENT_SOCKET or /run/jabmon/agent.sock)";
/** Run a shell command; an unreachable agent or a refusal prints one line and exits 1. */
const shell =
  (run: (sh: typeof import("../shell/index.js")) => Promise<number | void>) => async () => {
    const sh = await import("../shell/index.js");
    try {
      const code = await run(sh);
      if (typeof code === "number") process.exitCode = code;
    } catch (err) {
      if (!(err instanceof sh.ShellError)) throw err;
      process.stderr.write(`jabmon: ${err.message}\n`);
      process.exitCode = 1;
    }
  };

program
  .command("send <text>")
  .description("publish a message event through the local agent")
  .option("--severity <level>", "info, warning or critical", "info")
  .option(socketOption, socketHelp)
  .action((text: string, o: { severity: string; socket?: string }) =>
    shell((sh) =>
      sh
        .request(sh.socketPath(o.socket), { op: "send", severity: o.severity, text })
        .then(() => {}),
    )(),
  );

program
  .command("check-result <name> <exit_code> [output]")
  .description("report a passive check result (exit code 0-3 as a Nagios plugin; perfdata after |)")
  .option(socketOption, socketHelp)
  .action((name: string, exit: string, output: string | undefined, o: { socket?: string }) =>
    shell((sh) =>
      sh
        .request(sh.socketPath(o.socket), { op: "check-result", name, exit, output: output ?? "" })
        .then(() => {}),
    )(),
  );

program
  .command("log <line>")
  .description("publish a log line as an event through the local agent")
  .option("--tag <tag>", "where the line comes from")
  .option("--severity <level>", "info, warning or critical", "info")
  .option(socketOption, socketHelp)
  .action((text: string, o: { tag?: string; severity: string; socket?: string }) =>
    shell((sh) =>
      sh
        .request(sh.socketPath(o.socket), {
          op: "log",
          text,
          severity: o.severity,
          ...(o.tag ? { tag: o.tag } : {}),
        })
        .then(() => {}),
    )(),
  );

program
  .command("report")
  .description("report results through the local agent")
  .command("backup")
  .description("report a backup's outcome")
  .requiredOption("--job <name>", "backup job name")
  .requiredOption("--status <status>", "ok or failed")
  .option("--size <bytes>", "size of the backup in bytes")
  .option("--duration <seconds>", "how long it took")
  .option("--message <text>", "anything a person should read")
  .option(socketOption, socketHelp)
  .action(
    (o: {
      job: string;
      status: string;
      size?: string;
      duration?: string;
      message?: string;
      socket?: string;
    }) =>
      shell((sh) =>
        sh
          .request(sh.socketPath(o.socket), {
            op: "backup",
            job: o.job,
            status: o.status,
            size: o.size,
            duration: o.duration,
            message: o.message,
          })
          .then(() => {}),
      )(),
  );

program
  .command("run-backup <command...>")
  .description(
    "run a backup command (no shell) and report its status, duration and the size of --measure",
  )
  .requiredOption("--job <name>", "backup job name")
  .option("--measure <path>", "file or directory whose size is reported")
  .option(socketOption, socketHelp)
  .action((argv: string[], o: { job: string; measure?: string; socket?: string }) =>
    shell((sh) =>
      sh.runBackup({
        job: o.job,
        measure: o.measure,
        command: argv[0] as string,
        args: argv.slice(1),
        socket: sh.socketPath(o.socket),
      }),
    )(),
  );

const account = program
  .command("account")
  .description("manage XMPP accounts on the configured ejabberd");
account
  .command("add <user> <password>")
  .description("create an account by in-band registration (XEP-0077)")
  .option(
    "--service <url>",
    "c2s address",
    process.env.JABMON_AGENT_SERVICE ?? "xmpp://127.0.0.1:5222",
  )
  .option("--domain <domain>", "XMPP domain", process.env.JABMON_DOMAIN ?? "localhost")
  .action(async (user: string, password: string, options: { service: string; domain: string }) => {
    await registerAccount(options.service, options.domain, user, password);
    process.stdout.write(`created ${user}@${options.domain}\n`);
  });

program
  .command("demo")
  .description("run ejabberd, the component, the status page and a local agent in the foreground")
  .action(async () => {
    const { runDemo } = await import("./demo.js");
    await runDemo();
  });

program
  .command("notify")
  .description("send a Nagios notification into jabmon (macros as options or NAGIOS_* variables)")
  .option("--type <type>", "notification type ($NOTIFICATIONTYPE$)")
  .option("--host <name>", "host name ($HOSTNAME$)")
  .option("--service <name>", "service description ($SERVICEDESC$); omit for a host notification")
  .option("--state <state>", "state ($SERVICESTATE$ or $HOSTSTATE$)")
  .option("--output <text>", "plugin output ($SERVICEOUTPUT$ or $HOSTOUTPUT$)")
  .option("--redis <url>", "Redis URL", process.env.JABMON_REDIS_URL ?? "redis://127.0.0.1:6379")
  .option("--prefix <prefix>", "Redis key prefix", process.env.JABMON_REDIS_PREFIX ?? "jabmon:")
  .action(async (options: Record<string, string | undefined>) => {
    const { nagiosAlert, raiseAlert } = await import("../monitor/index.js");
    const { createRedis, Keys } = await import("../store/index.js");
    const alert = nagiosAlert(options, process.env);
    const redis = createRedis(options.redis as string, createLogger("jabmon-notify", "warn"));
    try {
      await raiseAlert(redis, new Keys(options.prefix as string), alert);
    } finally {
      redis.disconnect();
    }
    process.stdout.write(`queued alert ${alert.id}\n`);
  });

program
  .command("alertbot")
  .description("subscribe to the alert publishers found by disco (all, or those matching --filter)")
  .option("--filter <glob>", "agents' bare JIDs to follow", "*")
  .option("--forward <jid>", "also forward each notification to this JID")
  .option("--rediscover-ms <ms>", "how often to look for new agents", "60000")
  .action(async (options: { filter: string; forward?: string; rediscoverMs: string }) => {
    const { startAlertbot } = await import("../alertbot/index.js");
    const env = process.env;
    if (!env.JABMON_ALERTBOT_JID || !env.JABMON_ALERTBOT_PASSWORD)
      throw new ConfigError("set JABMON_ALERTBOT_JID and JABMON_ALERTBOT_PASSWORD");
    const running = await startAlertbot({
      service: env.JABMON_ALERTBOT_SERVICE ?? "xmpp://127.0.0.1:5222",
      jid: env.JABMON_ALERTBOT_JID,
      password: env.JABMON_ALERTBOT_PASSWORD,
      component: env.JABMON_COMPONENT_JID ?? "monitor.localhost",
      filter: options.filter,
      forwardTo: options.forward,
      rediscoverMs: Number(options.rediscoverMs),
      log: createLogger("jabmon-alertbot"),
    });
    stopOnSignal(() => running.stop());
  });

program.parseAsync().catch(fail);
