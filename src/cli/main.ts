#!/usr/bin/env node
/**
 * The `jabmon` command.
 */
import { Command } from "commander";
import {
  adminbotEnv,
  adminbotSchema,
  COMPONENT_ROLES,
  ConfigError,
  componentEnv,
  componentSchema,
  loadConfig,
  readSecretFile,
  secretFromEnv,
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
  .option(
    "--role <role>",
    `what this process runs: ${COMPONENT_ROLES.join(", ")} (default all, or $JABMON_ROLE; docs/deploy.md)`,
  )
  .action(async (options: { config?: string; role?: string }) => {
    const config = loadConfig(componentSchema, {
      file: options.config,
      envMap: componentEnv,
      overrides: { role: options.role },
      overrideOrigins: { role: "--role" },
    });
    const { startRole } = await import("../server/index.js");
    const name = config.role === "all" ? "jabmon-component" : `jabmon-${config.role}`;
    const running = await startRole(config, createLogger(name));
    stopOnSignal(() => running.stop());
  });

program
  .command("agent")
  .description("run the host agent: one XMPP connection, status presence to the component")
  .option(
    "-c, --config <file>",
    "YAML or JSON config file (default $JABMON_AGENT_CONFIG; JABMON_AGENT_* variables override it)",
  )
  .option(
    "--password-file <file>",
    "read the account's password from this file (also $JABMON_AGENT_PASSWORD_FILE)",
  )
  .action(async (options: { config?: string; passwordFile?: string }) => {
    const { loadAgentConfig, startAgent } = await import("../agent/index.js");
    const file = options.config ?? process.env.JABMON_AGENT_CONFIG;
    const log = createLogger("jabmon-agent");
    const load = () => loadAgentConfig(file, process.env, options.passwordFile);
    const running = await startAgent(load(), log, { reloadConfig: load });
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

interface AccountAddOptions {
  service: string;
  domain: string;
  caFile?: string;
  insecure?: boolean;
}

const account = program
  .command("account")
  .description("manage XMPP accounts on the configured ejabberd");
account
  .command("add <user> [password]")
  .description(
    "create an account by in-band registration (XEP-0077); the password from --password-file, " +
      "$JABMON_ACCOUNT_PASSWORD(_FILE) or, least safe (any local user sees it in ps), the command line",
  )
  .option(
    "--service <url>",
    "c2s address",
    process.env.JABMON_AGENT_SERVICE ?? "xmpp://127.0.0.1:5222",
  )
  .option("--domain <domain>", "XMPP domain", process.env.JABMON_DOMAIN ?? "localhost")
  .option("--password-file <file>", "read the password from this file ('-': standard input)")
  .option(
    "--ca-file <file>",
    "PEM CA certificates to trust besides the system's (a self-signed server)",
    process.env.JABMON_AGENT_CA_FILE,
  )
  .option("--insecure", "allow plain TCP when the server offers no STARTTLS (loopback tests only)")
  .action(
    async (
      user: string,
      given: string | undefined,
      options: AccountAddOptions & { passwordFile?: string },
    ) => {
      const password = await accountPassword(given, options.passwordFile);
      await registerAccount(options.service, options.domain, user, password, {
        caFile: options.caFile,
        insecure: options.insecure === true,
      });
      process.stdout.write(`created ${user}@${options.domain}\n`);
    },
  );

/** One source of the new account's password, never required on the command line. */
async function accountPassword(given: string | undefined, file: string | undefined) {
  const fromEnv = secretFromEnv(process.env, "JABMON_ACCOUNT_PASSWORD");
  const sources = [given, file, fromEnv].filter((s) => s !== undefined);
  if (sources.length > 1)
    throw new ConfigError(
      "give the password one way: --password-file, JABMON_ACCOUNT_PASSWORD(_FILE) or the argument",
    );
  if (file === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const secret = Buffer.concat(chunks)
      .toString("utf8")
      .replace(/\r?\n$/, "");
    if (secret === "") throw new ConfigError("--password-file -: standard input is empty");
    return secret;
  }
  const password = file ? readSecretFile(file, "--password-file") : (given ?? fromEnv);
  if (password === undefined)
    throw new ConfigError(
      "no password: use --password-file FILE ('-' for standard input) or JABMON_ACCOUNT_PASSWORD(_FILE)",
    );
  return password;
}

program
  .command("gateway")
  .description("the HTTP gateway to Jabber-RPC (runs inside `jabmon component`: gateway.enabled)")
  .command("token <jid>")
  .description("print a new gateway token for JID and the config entry holding only its hash")
  .action(async (jid: string) => {
    const { hashToken, newToken } = await import("../gateway/index.js");
    const token = newToken();
    process.stdout.write(
      `token (give it to the caller; it is not stored anywhere): ${token}\n` +
        `config:  gateway: { tokens: [{ jid: ${jid}, sha256: ${hashToken(token)} }] }\n` +
        `env:     JABMON_GATEWAY_TOKENS=${jid}:${hashToken(token)}\n`,
    );
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
    const password = secretFromEnv(env, "JABMON_ALERTBOT_PASSWORD");
    if (!env.JABMON_ALERTBOT_JID || !password)
      throw new ConfigError(
        "set JABMON_ALERTBOT_JID and JABMON_ALERTBOT_PASSWORD (or JABMON_ALERTBOT_PASSWORD_FILE)",
      );
    const running = await startAlertbot({
      service: env.JABMON_ALERTBOT_SERVICE ?? "xmpp://127.0.0.1:5222",
      jid: env.JABMON_ALERTBOT_JID,
      password,
      component: env.JABMON_COMPONENT_JID ?? "monitor.localhost",
      caFile: env.JABMON_ALERTBOT_CA_FILE || undefined,
      insecure: env.JABMON_ALERTBOT_INSECURE === "true" || env.JABMON_ALERTBOT_INSECURE === "1",
      filter: options.filter,
      forwardTo: options.forward,
      rediscoverMs: Number(options.rediscoverMs),
      log: createLogger("jabmon-alertbot"),
    });
    stopOnSignal(() => running.stop());
  });

const module_ = program
  .command("module")
  .description("signed check modules: keys, signing, publishing, roll-out (docs/modules.md)");
/** Commands that talk to the component log in as the publisher (JABMON_MODULE_JID/PASSWORD). */
const withClient =
  <A extends unknown[]>(
    run: (c: import("./module.js").ModuleClient, ...args: A) => Promise<void>,
  ) =>
  async (...args: A) => {
    const m = await import("./module.js");
    const client = await m.ModuleClient.connect(m.loginFromEnv(process.env));
    try {
      await run(client, ...args);
    } finally {
      await client.stop();
    }
  };
module_
  .command("keygen")
  .description(
    "make an Ed25519 signing key: FILE (private, 0600) and FILE.pub (for agents' trustedKeys)",
  )
  .option("--out <file>", "private key file", "jabmon-module.key")
  .action(async (o: { out: string }) => {
    const { keygen } = await import("./module.js");
    const publicKey = keygen(o.out);
    process.stdout.write(`private key: ${o.out}\npublic key (add to trustedKeys): ${publicKey}\n`);
  });
module_
  .command("sign <dir>")
  .description("hash every file of DIR into its manifest, sign it, write DIR/signed.xml")
  .requiredOption("--key <file>", "private key from jabmon module keygen")
  .action(async (dir: string, o: { key: string }) => {
    const { sign } = await import("./module.js");
    const { manifest, out } = sign(dir, o.key);
    process.stdout.write(
      `signed ${manifest.name} v${manifest.version} (${Object.keys(manifest.files).length} files) → ${out}\n`,
    );
  });
module_
  .command("publish <dir>")
  .description(
    "publish DIR/signed.xml to modules/<name>; --canary sends it to that share of agents first",
  )
  .option("--canary <percent>", "e.g. 10%: only agents whose JID hashes below it install it now")
  .action(
    withClient(async (client, dir: string, o: { canary?: string }) => {
      const m = await import("./module.js");
      const canary = m.parseCanary(o.canary);
      const r = await client.publish(m.withCanary(m.readSigned(dir), canary));
      process.stdout.write(
        `published ${r.name} v${r.version}${canary < 100 ? ` to ${canary}% of its agents` : ""}\n`,
      );
    }),
  );
module_
  .command("promote <name>")
  .description("send the current (canary) version to every agent it targets")
  .action(
    withClient(async (client, name: string) => {
      const m = await import("./module.js");
      const r = await client.publish(m.withCanary(await client.current(name), 100));
      process.stdout.write(`promoted ${r.name} v${r.version} to all its agents\n`);
    }),
  );
module_
  .command("rollback <name>")
  .description(
    "publish the previous version again, signed as a new version (agents refuse downgrades)",
  )
  .requiredOption("--key <file>", "private key to sign the new version with")
  .action(
    withClient(async (client, name: string, o: { key: string }) => {
      const m = await import("./module.js");
      const r = await m.rollback(client, name, o.key);
      process.stdout.write(
        `rolled ${name} back to the content of v${r.from}, published as v${r.version}\n`,
      );
    }),
  );
module_
  .command("list")
  .description("the modules on the component with their current version and canary")
  .action(
    withClient(async (client) => {
      for (const e of await client.index())
        process.stdout.write(
          `${e.attrs.name} v${e.attrs.version}${Number(e.attrs.canary) < 100 ? ` (canary ${e.attrs.canary}%)` : ""}\n`,
        );
    }),
  );
module_
  .command("status <name>")
  .description(
    "which hosts run which version, and the module's audit trail (needs RPC read access)",
  )
  .action(
    withClient(async (client, name: string) => {
      const status = (await client.rpc("modules.status", [name])) as Record<string, unknown>;
      process.stdout.write(
        `${name}: current v${status.current}${Number(status.canary) < 100 ? ` (canary ${status.canary}%)` : ""}; ${status.text}\n`,
      );
      for (const e of (await client.rpc("modules.audit", [name, 10])) as Array<
        Record<string, unknown>
      >)
        process.stdout.write(
          `  ${(e.time as Date).toISOString()} ${e.jid} ${e.action} v${e.version}${Number(e.canary) < 100 ? ` canary ${e.canary}%` : ""}\n`,
        );
    }),
  );

program.parseAsync().catch(fail);
