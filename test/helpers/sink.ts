/**
 * Where agent tests read what an agent published: the real component (pubsub
 * service, monitor, everything), with the stored items of node
 * `agents/<jid>` read back from Redis through the service's own store.
 */
import { PubsubStore } from "../../src/pubsub/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { Keys } from "../../src/store/index.js";
import { type Element, ltx } from "../../src/xmpp/index.js";
import type { TestStack } from "./stack.js";
import { waitFor } from "./wait.js";

export interface PublishSink {
  readonly component: RunningComponent;
  /** Stored payloads of node `agents/<jid>` in node order, as of the last read or wait. */
  items(jid: string): Element[];
  /** Read the stored payloads now. */
  read(jid: string): Promise<Element[]>;
  /**
   * The node's counters: `seq` = items ever stored (a replayed result is not
   * stored twice), `agentSeq` = the highest agent sequence stored. A node keeps
   * only its last `pubsub#max_items` items; these count all of them.
   */
  counters(jid: string): Promise<{ seq: number; agentSeq: number; maxItems: number }>;
  /** Re-read and wait until `predicate` holds for the stored items of `jid`. */
  waitForItems(
    jid: string,
    predicate: (items: Element[]) => boolean,
    timeoutMs: number,
    what?: string,
  ): Promise<Element[]>;
  stop(): Promise<void>;
}

export async function startPublishSink(stack: TestStack): Promise<PublishSink> {
  const component = await stack.startComponent();
  const store = new PubsubStore(component.redis, new Keys(stack.prefix));
  const cache = new Map<string, Element[]>();
  const read = async (jid: string) => {
    const node = `agents/${jid}`;
    const stored = await store.itemsByIds(node, await store.itemIds(node));
    const items = stored
      .sort((a, b) => a.seq - b.seq)
      .map((item) => ltx.parse(item.payload) as Element);
    cache.set(jid, items);
    return items;
  };
  return {
    component,
    items: (jid) => cache.get(jid) ?? [],
    read,
    async counters(jid) {
      const node = await store.node(`agents/${jid}`);
      return { seq: node?.seq ?? 0, agentSeq: node?.agentSeq ?? 0, maxItems: node?.maxItems ?? 0 };
    },
    waitForItems: (jid, predicate, timeoutMs, what = `items of ${jid}`) =>
      waitFor(
        async () => {
          const items = await read(jid);
          return predicate(items) ? items : undefined;
        },
        { timeoutMs, what },
      ),
    stop: () => component.stop(),
  };
}
