/**
 * `jabmon alertbot`: an ordinary XMPP client that finds the alert publishers
 * by disco and subscribes to all of them or a glob-filtered subset, as the
 * seed describes ("Alertbots would then disco search for all
 * alertpublishers... subscribe to All or a Subset of agents").
 *
 * Discovery: disco#items on the component's `alertpublishers` node lists one
 * item per agent (jid = the component, node = `agents/<bare JID>`), paged with
 * XEP-0059 result set management; the bot
 * subscribes to each matching node (XEP-0060 §6.1) and prints each published
 * item, optionally forwarding it as a chat message. It subscribes to
 * `alertpublishers` itself first, so the service tells it of each new agent
 * node (`<collection><associate node/></collection>`, as XEP-0248) and it
 * subscribes at once; it still rediscovers periodically, in case a
 * notification was lost. It also subscribes to the component's
 * `alerts` node and passes on the alerts about matching agents (the filter
 * applies to the `<alert jid/>` attribute there).
 *
 * The agent nodes and the `alerts` node are whitelist: the bot's bare JID must
 * be in the component's `pubsub.subscribers` (docs/pubsub.md).
 *
 * https://xmpp.org/extensions/xep-0030.html  https://xmpp.org/extensions/xep-0060.html
 * https://xmpp.org/extensions/xep-0059.html
 */

import { xml } from "@xmpp/client";
import { createClient } from "../client/index.js";
import type { Logger } from "../log/index.js";
import {
  globMatch,
  NS_DELAY,
  NS_DISCO_ITEMS,
  NS_PUBSUB,
  NS_PUBSUB_EVENT,
  NS_RSM,
} from "../protocol/index.js";
import { type Element, keepConnected, type TlsClientOptions } from "../xmpp/index.js";

export interface AlertbotOptions extends TlsClientOptions {
  service: string;
  jid: string;
  password: string;
  component: string;
  /** Glob on the agent's bare JID (`*` for all). */
  filter: string;
  /** Forward each notification to this JID as a chat message. */
  forwardTo?: string;
  rediscoverMs?: number;
  /** Agents asked for per disco#items page (XEP-0059 `<max/>`; the service may send fewer). */
  discoPageSize?: number;
  log: Logger;
  /** Called after each new subscription. */
  onSubscribed?: (node: string) => void;
  /** Called with each notification (default: print a line). */
  onItem?: (agent: string, payload: string, node: string) => void;
}

/** The component's node of alerts (src/monitor ALERTS_NODE). */
export const ALERTS_NODE = "alerts";
/** The component's listing of agent nodes (src/pubsub ALERTPUBLISHERS). */
export const ALERTPUBLISHERS = "alertpublishers";

/**
 * The agents a `filter` glob names (`*`, `?`; anchored, case-insensitive).
 * The monitor's linear-time matcher: the RegExp this was before backtracked
 * exponentially on patterns such as `*a*a*a*a*a*a*a*a*b` (issue 18), and
 * every agent JID and alert is tested against the filter.
 */
export function agentFilter(pattern: string): (bareJid: string) => boolean {
  return (bareJid) => globMatch(pattern, bareJid);
}

export async function startAlertbot(options: AlertbotOptions) {
  const { log, component } = options;
  const [username, domain] = options.jid.split("@") as [string, string];
  const xmpp = createClient({
    service: options.service,
    domain,
    username,
    password: options.password,
    resource: "alertbot",
    caFile: options.caFile,
    insecure: options.insecure,
  });
  xmpp.on("error", (err: Error) => log.warn({ err: err.message }, "xmpp error"));
  const matches = agentFilter(options.filter);
  const subscribed = new Set<string>();
  const onItem =
    options.onItem ??
    ((agent: string, payload: string) => process.stdout.write(`${agent} ${payload}\n`));

  /** Nodes we subscribed to because the service told us they are new. */
  const brandNew = new Set<string>();

  xmpp.on("stanza", (stanza) => {
    if (!stanza.is("message") || stanza.attrs.from !== component) return;
    const event = stanza.getChild("event", NS_PUBSUB_EVENT);
    const collection = event?.getChild("collection");
    if (collection?.attrs.node === ALERTPUBLISHERS) return followListing(collection);
    const items = event?.getChild("items");
    const node = items?.attrs.node as string | undefined;
    if (!node) return;
    // A node's last item, sent because we (re)subscribed (XEP-0060 §6.1.7, marked
    // with <delay/>), is old news: the bot reports what is published from now on.
    // Except on a node that was just created: its last item is its first result.
    if (stanza.getChild("delay", NS_DELAY) && !brandNew.delete(node)) return;
    if (!node.startsWith("agents/") && node !== ALERTS_NODE) return;
    for (const item of items?.getChildren("item") ?? []) {
      const element = item.getChildElements()[0];
      const agent =
        node === ALERTS_NODE ? String(element?.attrs.jid ?? "") : node.slice("agents/".length);
      if (node === ALERTS_NODE && !matches(agent)) continue;
      const payload = element?.toString() ?? "";
      onItem(agent, payload, node);
      if (options.forwardTo)
        void xmpp.send(
          xml(
            "message",
            { to: options.forwardTo, type: "chat" },
            xml("body", {}, `${agent}: ${payload}`),
          ),
        );
    }
  });

  /**
   * Every agent node, page by page (XEP-0059 `<after>` the last one seen): one
   * reply for 10,000 agents would be ~800 KB. Stops at the end of the list, or
   * after one reply from a service that ignores `<set/>` (it sent everything).
   */
  const agentNodes = async (): Promise<string[]> => {
    const nodes: string[] = [];
    let after: string | undefined;
    for (;;) {
      const set = xml(
        "set",
        { xmlns: NS_RSM },
        xml("max", {}, String(options.discoPageSize ?? 1000)),
      );
      if (after !== undefined) set.append(xml("after", {}, after));
      const reply = await xmpp.iqCaller.request(
        xml(
          "iq",
          { type: "get", to: component },
          xml("query", { xmlns: NS_DISCO_ITEMS, node: "alertpublishers" }, set),
        ),
      );
      const query = reply.getChild("query", NS_DISCO_ITEMS);
      const items = query?.getChildren("item") ?? [];
      for (const item of items) nodes.push(String(item.attrs.node ?? ""));
      const page = query?.getChild("set", NS_RSM);
      const last = page?.getChildText("last");
      const index = Number(page?.getChild("first")?.attrs.index ?? 0);
      const count = Number(page?.getChildText("count") ?? 0);
      if (!page || !last || items.length === 0 || index + items.length >= count) return nodes;
      after = last;
    }
  };

  const wanted = (node: string) =>
    node.startsWith("agents/") && matches(node.slice("agents/".length));

  const subscribe = async (node: string) => {
    if (subscribed.has(node)) return;
    try {
      await xmpp.iqCaller.request(
        xml(
          "iq",
          { type: "set", to: component },
          xml("pubsub", { xmlns: NS_PUBSUB }, xml("subscribe", { node, jid: options.jid })),
        ),
      );
    } catch (err) {
      // One refused node (e.g. not-allowed: this JID is not in pubsub.subscribers)
      // must not stop the others; it is tried again on the next discovery.
      log.warn({ node, err: (err as Error).message }, "cannot subscribe");
      return;
    }
    subscribed.add(node);
    log.info({ node }, "subscribed");
    options.onSubscribed?.(node);
  };

  /** A new agent node: subscribe now. A deleted one: forget it. */
  function followListing(collection: Element) {
    for (const change of collection.getChildElements()) {
      const node = String(change.attrs.node ?? "");
      if (change.name === "disassociate") subscribed.delete(node);
      if (change.name !== "associate" || !wanted(node) || subscribed.has(node)) continue;
      brandNew.add(node);
      subscribe(node).catch((err: Error) =>
        log.warn({ node, err: err.message }, "cannot subscribe"),
      );
    }
  }

  const discover = async () => {
    // The listing first, so no agent node made while we page through it is missed.
    await subscribe(ALERTPUBLISHERS);
    const nodes = (await agentNodes()).filter(wanted);
    for (const node of [ALERTS_NODE, ...nodes]) await subscribe(node);
  };

  const keeper = keepConnected(xmpp, {
    log,
    onOnline: () => {
      subscribed.clear();
      void xmpp.send(xml("presence"));
      discover().catch((err: Error) => log.warn({ err: err.message }, "discovery failed"));
    },
  });
  await keeper.firstOnline;
  const timer = setInterval(
    () => void discover().catch((err: Error) => log.warn({ err: err.message }, "discovery failed")),
    options.rediscoverMs ?? 60_000,
  );
  return {
    subscribed: () => [...subscribed],
    async stop() {
      clearInterval(timer);
      await keeper.stop();
    },
  };
}
