#!/usr/bin/env node
/**
 * The `jabmon` command.
 */
import { Command } from "commander";
import {
  adminbotEnv,
  adminbotSchema,
  agentEnv,
  agentSchema,
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
  .option("-c, --config <file>", "YAML or JSON config file (JABMON_AGENT_* variables override it)")
  .action(async (options: { config?: string }) => {
    const config = loadConfig(agentSchema, { file: options.config, envMap: agentEnv });
    const { startAgent } = await import("../agent/index.js");
    const running = await startAgent(config, createLogger("jabmon-agent"));
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

program.parseAsync().catch(fail);
