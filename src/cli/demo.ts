/**
 * `jabmon demo`: the whole system on one machine, in the foreground: a private
 * ejabberd, the component with its status page, and one local agent (a child
 * process, as on a real host). Ctrl-C stops everything and cleans up.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { componentEnv, componentSchema, loadConfig } from "../config/index.js";
import { createLogger } from "../log/index.js";
import { startComponent } from "../server/index.js";
import { assertPortFree, ensureEjabberdInstalled, PrivateEjabberd } from "../stack/index.js";
import { deletePrefix } from "../store/index.js";
import { registerAccount } from "../xmpp/index.js";
import { stopOnSignal } from "./run.js";

const say = (line: string) => process.stdout.write(`${line}\n`);

export async function runDemo(env = process.env): Promise<void> {
  await ensureEjabberdInstalled(say);
  const componentPassword = randomBytes(16).toString("hex");
  const domain = env.JABMON_DOMAIN ?? "localhost";
  const componentJid = env.JABMON_COMPONENT_JID ?? "monitor.localhost";
  const c2sPort = Number(env.JABMON_C2S_PORT ?? 5222);
  const componentPort = Number(env.JABMON_COMPONENT_PORT ?? 5347);
  const httpPort = Number(env.JABMON_HTTP_PORT ?? 8080);
  const systemEjabberd = " (a system ejabberd? `systemctl stop ejabberd`)";
  await assertPortFree(c2sPort, "XMPP client connections", "JABMON_C2S_PORT", systemEjabberd);
  await assertPortFree(
    componentPort,
    "the component listener",
    "JABMON_COMPONENT_PORT",
    systemEjabberd,
  );
  await assertPortFree(httpPort, "the status page", "JABMON_HTTP_PORT");
  const ejabberd = await PrivateEjabberd.create({
    name: "demo",
    domain,
    componentJid,
    componentPassword,
    c2sPort,
    componentPort,
  });
  say(
    `starting ejabberd (c2s ${ejabberd.c2sService}, component port ${ejabberd.config.componentPort})…`,
  );
  await ejabberd.start();

  const prefix = env.JABMON_REDIS_PREFIX ?? `jabmon-demo:${process.pid}:`;
  const config = loadConfig(componentSchema, {
    envMap: componentEnv,
    env: { ...env, JABMON_REDIS_PREFIX: prefix, JABMON_AGENT_DOMAINS: domain },
    overrides: {
      "xmpp.service": ejabberd.componentService,
      "xmpp.jid": componentJid,
      "xmpp.password": componentPassword,
    },
  });
  const log = createLogger("jabmon-demo", env.JABMON_LOG_LEVEL ?? "warn");
  say(`starting the component ${componentJid}…`);
  const component = await startComponent(config, log);

  const agentPassword = randomBytes(12).toString("hex");
  const agentUser = env.JABMON_DEMO_AGENT ?? "agent1";
  await registerAccount(ejabberd.c2sService, domain, agentUser, agentPassword);
  const main = fileURLToPath(new URL("./main.js", import.meta.url));
  const agentSocket = join(ejabberd.dir, "agent", "agent.sock");
  const agent = spawn(process.execPath, [main, "agent"], {
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      ...env,
      JABMON_LOG_LEVEL: env.JABMON_LOG_LEVEL ?? "warn",
      JABMON_AGENT_SERVICE: ejabberd.c2sService,
      JABMON_AGENT_JID: `${agentUser}@${domain}`,
      JABMON_AGENT_PASSWORD: agentPassword,
      // Kept with the demo's ejabberd files, so Ctrl-C removes them too.
      JABMON_AGENT_SPOOL_DIR: join(ejabberd.dir, "agent", "spool"),
      JABMON_AGENT_SOCKET: agentSocket,
      JABMON_COMPONENT_JID: componentJid,
    },
  });
  say(`started a local agent ${agentUser}@${domain} (pid ${agent.pid})`);
  say(
    `  shell scripts reach it with: JABMON_AGENT_SOCKET=${agentSocket} node dist/cli/main.js send --severity warning "hello"`,
  );
  say(
    `\njabmon is up: open ${component.httpUrl}/ (API: ${component.httpUrl}/api/hosts). Ctrl-C stops it.`,
  );

  stopOnSignal(async () => {
    agent.kill("SIGTERM");
    await component.stop();
    say("stopping ejabberd…");
    await ejabberd.destroy();
    const cleanup = component.redis.duplicate();
    await deletePrefix(cleanup, prefix);
    cleanup.disconnect();
    say("stopped and cleaned up.");
  });
}
