/**
 * `jabmon demo`: the whole system on one machine, in the foreground: a private
 * ejabberd, the component with its status page, and one local agent (a child
 * process, as on a real host). Ctrl-C stops everything and cleans up.
 *
 * Secure as a deployment, not a toy: the component secret is random (32 hex
 * characters, never a shipped placeholder), ejabberd gets a self-signed
 * certificate made for this run and requires STARTTLS, and the agent trusts
 * exactly that certificate (JABMON_AGENT_CA_FILE). Redis is the one `npm run
 * demo` found or started (scripts/ensure.mjs starts it with AOF); the
 * component logs a warning when it has no persistence.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, lstatSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { componentEnv, componentSchema, loadConfig } from "../config/index.js";
import { createLogger } from "../log/index.js";
import { startComponent } from "../server/index.js";
import { demoSocketPath } from "../shell/index.js";
import { assertPortFree, ensureEjabberdInstalled, PrivateEjabberd } from "../stack/index.js";
import { deletePrefix } from "../store/index.js";
import { registerAccount } from "../xmpp/index.js";
import { stopOnSignal } from "./run.js";

const say = (line: string) => process.stdout.write(`${line}\n`);

/**
 * The socket's directory (and, outside $XDG_RUNTIME_DIR, its parent in the
 * temporary directory): ours alone, since another user could have made it first.
 */
function privateDir(dir: string, runtimeDir: string | undefined): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const uid = process.getuid?.();
  const parent = dirname(dir);
  for (const d of parent === runtimeDir ? [dir] : [dir, parent]) {
    const st = lstatSync(d);
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0)
      throw new Error(`${d} must be a directory of ours with mode 0700 (remove it and retry)`);
  }
}

export async function runDemo(env = process.env): Promise<void> {
  await ensureEjabberdInstalled(say);
  // Random per run: nobody can know it, and it never appears in a file we ship.
  const componentPassword = randomBytes(16).toString("hex");
  const domain = env.JABMON_DOMAIN ?? "localhost";
  const componentJid = env.JABMON_COMPONENT_JID ?? "monitor.localhost";
  const c2sPort = Number(env.JABMON_C2S_PORT ?? 5222);
  const componentPort = Number(env.JABMON_COMPONENT_PORT ?? 5347);
  const httpPort = Number(env.JABMON_HTTP_PORT ?? 8080);
  // ejabberd's XMPP over WebSocket/BOSH, for the live view (docs/gateway.md).
  const xmppHttpPort = Number(env.JABMON_XMPP_HTTP_PORT ?? 5280);
  const systemEjabberd = " (a system ejabberd? `systemctl stop ejabberd`)";
  await assertPortFree(c2sPort, "XMPP client connections", "JABMON_C2S_PORT", systemEjabberd);
  await assertPortFree(
    componentPort,
    "the component listener",
    "JABMON_COMPONENT_PORT",
    systemEjabberd,
  );
  await assertPortFree(httpPort, "the status page", "JABMON_HTTP_PORT");
  await assertPortFree(
    xmppHttpPort,
    "XMPP over WebSocket",
    "JABMON_XMPP_HTTP_PORT",
    systemEjabberd,
  );
  const ejabberd = await PrivateEjabberd.create({
    name: "demo",
    domain,
    componentJid,
    componentPassword,
    c2sPort,
    componentPort,
    httpPort: xmppHttpPort,
  });
  say(
    `starting ejabberd (c2s ${ejabberd.c2sService} with STARTTLS required, component port ${ejabberd.config.componentPort})…`,
  );
  await ejabberd.start();
  try {
    await startOnEjabberd(env, ejabberd, { domain, componentJid, componentPassword });
  } catch (err) {
    // A demo that could not come up must not leave its ejabberd running.
    await ejabberd.destroy().catch(() => undefined);
    throw err;
  }
}

async function startOnEjabberd(
  env: NodeJS.ProcessEnv,
  ejabberd: PrivateEjabberd,
  names: { domain: string; componentJid: string; componentPassword: string },
): Promise<void> {
  const { domain, componentJid, componentPassword } = names;
  // The demo's certificate at a fixed path beside its socket, for clients in other terminals.
  const demoDir = dirname(demoSocketPath(env));
  privateDir(demoDir, env.XDG_RUNTIME_DIR);
  const caFile = join(demoDir, "ca.pem");
  if (ejabberd.caFile) copyFileSync(ejabberd.caFile, caFile);

  // An operator account that may read the component's nodes, for the live view over XMPP.
  const operatorPassword = randomBytes(9).toString("base64url");
  await registerAccount(ejabberd.c2sService, domain, "operator", operatorPassword, { caFile });
  const prefix = env.JABMON_REDIS_PREFIX ?? `jabmon-demo:${process.pid}:`;
  const config = loadConfig(componentSchema, {
    envMap: componentEnv,
    env: {
      ...env,
      JABMON_REDIS_PREFIX: prefix,
      JABMON_AGENT_DOMAINS: domain,
      // The demo's ejabberd is its own (registration from loopback only): every
      // account on it is an agent, on purpose (the README's second agent is web02).
      JABMON_AGENTS: env.JABMON_AGENTS ?? `*@${domain}`,
    },
    overrides: {
      "xmpp.service": ejabberd.componentService,
      "xmpp.jid": componentJid,
      "xmpp.password": componentPassword,
      // Overrides win over the environment: keep the subscribers it names too.
      "pubsub.subscribers": [
        `operator@${domain}`,
        ...(env.JABMON_PUBSUB_SUBSCRIBERS ?? "")
          .split(",")
          .map((j) => j.trim())
          .filter((j) => j !== ""),
      ],
    },
  });
  const log = createLogger("jabmon-demo", env.JABMON_LOG_LEVEL ?? "warn");
  say(`starting the component ${componentJid}…`);
  const component = await startComponent(config, log);

  const agentPassword = randomBytes(12).toString("hex");
  const agentUser = env.JABMON_DEMO_AGENT ?? "agent1";
  await registerAccount(ejabberd.c2sService, domain, agentUser, agentPassword, { caFile });
  const main = fileURLToPath(new URL("./main.js", import.meta.url));
  // A fixed path: `jabmon send` in another terminal finds it without being told.
  const agentSocket = demoSocketPath(env);
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
      // The demo's self-signed certificate: the agent verifies the server against it.
      JABMON_AGENT_CA_FILE: caFile,
    },
  });
  say(`started a local agent ${agentUser}@${domain} (pid ${agent.pid})`);
  say(
    `  XMPP clients (jabmon account add, a second agent) trust the demo's self-signed certificate with: export JABMON_AGENT_CA_FILE=${caFile}`,
  );
  say(
    `  from another terminal: npx jabmon send --severity warning "hello"   (socket ${agentSocket})`,
  );
  say(
    `\njabmon is up: open ${component.httpUrl}/ (API: ${component.httpUrl}/api/hosts). Ctrl-C stops it.`,
  );

  say(
    `live over XMPP: ${component.httpUrl}/live.html?component=${componentJid}&ws=${encodeURIComponent(ejabberd.websocketUrl ?? "")} as operator@${domain}, password ${operatorPassword}`,
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
