/**
 * The jabmon agent: one XMPP client connection to ejabberd, a status presence
 * sent directly to the component, re-sent whenever the summary changes or the
 * component asks (by sending us its presence after it reconnects).
 */
import { client } from "@xmpp/client";
import type { AgentConfig } from "../config/index.js";
import type { Logger } from "../log/index.js";
import { type AgentStatus, statusPresence } from "../protocol/index.js";
import { guardLateData, keepConnected } from "../xmpp/index.js";
import { registerAgentRpc } from "./rpc.js";
import { currentStatus, diskFinding, loadFinding } from "./status.js";

export { currentStatus, summarise, worstState } from "./status.js";

export interface RunningAgent {
  /** Re-evaluate status now and send presence if it changed. */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

const sameStatus = (a: AgentStatus | undefined, b: AgentStatus) =>
  a !== undefined && a.state === b.state && a.summary === b.summary && a.host === b.host;

export async function startAgent(config: AgentConfig, log: Logger): Promise<RunningAgent> {
  const [username, domain] = config.xmpp.jid.split("@") as [string, string];
  const xmpp = guardLateData(
    client({
      service: config.xmpp.service,
      domain,
      username,
      password: config.xmpp.password,
      resource: config.xmpp.resource,
    }),
  );
  const component = config.xmpp.component;
  let last: AgentStatus | undefined;

  const sendStatus = async (status: AgentStatus) => {
    last = status;
    if (xmpp.status !== "online") return;
    // Broadcast presence makes the session "available" to ejabberd, so the
    // component's presence to our bare JID after it restarts reaches us, and
    // admins who have this agent in their roster see its state too. The
    // directed copy is what the component records.
    const broadcast = statusPresence(status, component);
    delete broadcast.attrs.to;
    for (const presence of [broadcast, statusPresence(status, component)]) {
      await xmpp.send(presence as never).catch((err: Error) => {
        log.warn({ err: err.message }, "cannot send presence");
      });
    }
  };

  const refresh = async () => {
    const status = await currentStatus(config.host);
    if (sameStatus(last, status)) return;
    log.info({ state: status.state, summary: status.summary }, "status changed");
    await sendStatus(status);
  };

  xmpp.on("stanza", (stanza) => {
    // The component sends us its presence after it reconnects: answer with ours.
    if (stanza.is("presence") && stanza.attrs.from === component && !stanza.attrs.type && last) {
      void sendStatus(last);
    }
  });

  // First-cut checks callable over RPC (check.run); the agent branch's configured checks replace them.
  const rpcChecks: Record<string, () => Promise<{ state: string; output: string }>> = {
    status: async () => {
      const status = await currentStatus(config.host);
      return { state: status.state, output: status.summary };
    },
    load: async () => {
      const finding = loadFinding();
      return { state: finding.state, output: finding.text };
    },
    disk_root: async () => {
      const finding = await diskFinding("/");
      return { state: finding.state, output: finding.text };
    },
  };
  registerAgentRpc({
    xmpp,
    component,
    log,
    checks: () => Object.keys(rpcChecks),
    runCheck: (name) => (rpcChecks[name] as () => Promise<{ state: string; output: string }>)(),
    status: () => currentStatus(config.host),
    // The first-cut agent has no reloadable configuration yet: re-evaluate and re-send status.
    reload: async () => {
      last = undefined;
      await refresh();
      return "status re-evaluated and sent; this agent has no reloadable configuration yet";
    },
  });

  const keeper = keepConnected(xmpp, {
    log,
    onOnline: () => {
      // A fresh session: the component has seen nothing of it yet.
      void currentStatus(config.host).then(sendStatus);
    },
  });
  await keeper.firstOnline;

  const timer = setInterval(
    () => void refresh().catch((err) => log.warn({ err }, "status failed")),
    config.interval * 1000,
  );
  return {
    refresh,
    async stop() {
      clearInterval(timer);
      await keeper.stop();
    },
  };
}
