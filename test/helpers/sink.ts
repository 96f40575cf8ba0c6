/**
 * A publish endpoint for agent tests until the pubsub service lands: a real
 * XEP-0114 component (src/component's componentLink) connected to the test
 * ejabberd, answering each publish IQ with a result as docs/protocol.md says
 * the service does: idempotent on the payload's `seq` per node. It records
 * payloads in memory. Tests use only the PublishSink interface, so moving to
 * the real component is one line: replace startPublishSink with a sink that
 * reads the node's items from the real service.
 */
import { componentLink } from "../../src/component/index.js";
import { silentLogger } from "../../src/log/index.js";
import { NS_PUBSUB } from "../../src/protocol/index.js";
import type { Element } from "../../src/xmpp/index.js";
import type { TestStack } from "./stack.js";
import { waitFor } from "./wait.js";

export interface PublishSink {
  /** Stored payloads of node `agents/<jid>`, in arrival order (each seq once). */
  items(jid: string): Element[];
  /** Publish IQs received for the node, duplicates included. */
  received(jid: string): number;
  /** Wait until `predicate` holds for the stored items of `jid`. */
  waitForItems(
    jid: string,
    predicate: (items: Element[]) => boolean,
    timeoutMs: number,
    what?: string,
  ): Promise<Element[]>;
  stop(): Promise<void>;
}

export async function startPublishSink(stack: TestStack): Promise<PublishSink> {
  const link = componentLink({
    service: stack.ejabberd.componentService,
    domain: stack.componentJid,
    password: stack.ejabberd.config.componentPassword,
    log: silentLogger(),
  });
  const stored = new Map<string, Element[]>();
  const highest = new Map<string, number>();
  const counts = new Map<string, number>();
  link.router.set(NS_PUBSUB, "pubsub", ({ element }) => {
    const publish = element.getChild("publish");
    const node = publish?.attrs.node as string;
    const payload = publish?.getChild("item")?.getChildElements()[0];
    if (!node || !payload) throw new Error("bad publish");
    counts.set(node, (counts.get(node) ?? 0) + 1);
    const seq = Number(payload.attrs.seq);
    if (seq > (highest.get(node) ?? 0)) {
      highest.set(node, seq);
      const list = stored.get(node) ?? [];
      list.push(payload);
      stored.set(node, list);
    }
    return true;
  });
  await link.start();
  const items = (jid: string) => stored.get(`agents/${jid}`) ?? [];
  return {
    items,
    received: (jid) => counts.get(`agents/${jid}`) ?? 0,
    waitForItems: (jid, predicate, timeoutMs, what = `items of ${jid}`) =>
      waitFor(() => (predicate(items(jid)) ? items(jid) : undefined), { timeoutMs, what }),
    stop: () => link.stop(),
  };
}
