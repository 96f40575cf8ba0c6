/**
 * The `hosts` pubsub node: one item per host (item id = its bare JID) holding
 * its current state, replaced on every change. An operator's own XMPP account
 * (in `pubsub.subscribers` or `pubsub.admins`) fetches the items once for the
 * whole fleet and then gets every change as an XEP-0060 notification: the
 * status page's live view over XMPP-over-WebSocket (public/live.html) is
 * driven by this, without the HTTP API.
 *
 * Agents send their presence to the component only, so an operator's account
 * never sees it; the component republishes what the presence (and the
 * monitor) made of each host instead. Changes come from the Redis `changes`
 * channel every host-changing script publishes to (through a HostIndex), so
 * every instance of the component sees every change; two instances publish
 * the same item twice, which replaces it with itself.
 *
 * https://xmpp.org/extensions/xep-0060.html
 */
import { HostIndex } from "../http/index.js";
import type { Logger } from "../log/index.js";
import { NS_JABMON } from "../protocol/index.js";
import type { HostRecord, HostStore, Keys, Redis } from "../store/index.js";
import { type Element, el } from "../xmpp/index.js";

export const HOSTS_NODE = "hosts";

/** What the live node needs of the pubsub service (src/pubsub `PubsubService`). */
export interface HostsPublisher {
  ensureNode(
    node: string,
    config: { title: string; accessModel: "whitelist"; maxItems: number },
  ): Promise<boolean>;
  publish(node: string, payload: Element, itemId?: string): Promise<unknown>;
}

/**
 * `<host xmlns="urn:jabmon:0" jid=… state=… online=…><status>…</status></host>`.
 * No lastSeen: it changes with every presence and score, and an item that
 * changes only in it would be a notification that shows nothing new.
 */
export function hostElement(record: HostRecord): Element {
  return el(
    "host",
    {
      xmlns: NS_JABMON,
      jid: record.jid,
      host: record.host,
      online: String(record.online),
      // An offline host is down whatever its last reported state was.
      state: record.online ? record.state : "down",
      since: new Date(record.since).toISOString(),
      checks: record.checks,
      failing: record.failing,
    },
    el("status", {}, record.online ? record.status : record.offlineReason || record.status),
  );
}

export interface LiveNodeOptions {
  pubsub: HostsPublisher;
  hosts: HostStore;
  redis: Redis;
  keys: Keys;
  log: Logger;
  /** pubsub.maxItemsLimit: the node keeps one item per host. */
  maxItems: number;
  /** The status page's HostIndex, already started, when it runs: shared instead of a second one. */
  index?: HostIndex;
}

export interface LiveNode {
  stop(): void;
}

export async function startLiveNode(options: LiveNodeOptions): Promise<LiveNode> {
  const { pubsub, log } = options;
  const config = {
    title: "jabmon hosts",
    accessModel: "whitelist" as const,
    maxItems: options.maxItems,
  };
  await pubsub.ensureNode(HOSTS_NODE, config);
  const own = options.index === undefined;
  const index =
    options.index ??
    new HostIndex({
      store: options.hosts,
      redis: options.redis,
      keys: options.keys,
      log,
      flushMs: 100,
    });
  // What each host's item holds now: a change of something not shown (a new
  // score, lastSeen) publishes nothing (scores alone are one change a minute per host).
  const published = new Map<string, string>();
  const publishOne = async (record: HostRecord) => {
    const payload = hostElement(record);
    const text = payload.toString();
    if (published.get(record.jid) === text) return;
    published.set(record.jid, text);
    try {
      await pubsub.publish(HOSTS_NODE, payload, record.jid);
    } catch (err) {
      // Tried again on the host's next change.
      published.delete(record.jid);
      if ((err as { code?: string }).code !== "JABMON_ERR_NODE_NOT_FOUND") {
        log.warn({ err, jid: record.jid }, "cannot publish host state");
        return;
      }
      // An operator deleted the node: create it again with every host in it.
      await pubsub.ensureNode(HOSTS_NODE, config);
      published.clear();
      publish(index.all());
    }
  };
  // Publishes run one after another, so a host's items are in the order of its changes.
  let chain: Promise<void> = Promise.resolve();
  const publish = (records: Iterable<HostRecord>) => {
    const batch = [...records];
    chain = chain
      .then(async () => {
        for (const record of batch) await publishOne(record);
      })
      .catch((err) => log.warn({ err }, "cannot publish host states"));
  };
  index.on("changes", publish);
  if (own) await index.start();
  // Hosts that changed while no component ran, and a node created just now.
  publish(index.all());
  return {
    stop: () => {
      index.off("changes", publish);
      if (own) index.stop();
    },
  };
}
