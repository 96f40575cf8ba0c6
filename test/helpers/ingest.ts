/**
 * Produce ingest entries as the pubsub service does (docs/monitor.md,
 * "Ingest contract"): XADD to the owner's shard stream.
 */
import type { Redis } from "ioredis";
import { ingestShard, Keys } from "../../src/store/index.js";

export async function publishEntry(
  redis: Redis,
  prefix: string,
  owner: string,
  nodeSeq: number,
  payload: string,
): Promise<string> {
  const keys = new Keys(prefix);
  return (await redis.xadd(
    keys.ingest(ingestShard(owner)),
    "*",
    "node",
    `agents/${owner}`,
    "owner",
    owner,
    "nodeSeq",
    String(nodeSeq),
    "agentSeq",
    String(nodeSeq),
    "itemId",
    `item-${nodeSeq}`,
    "payload",
    payload,
    "publishedAt",
    String(Date.now()),
  )) as string;
}

export const checkXml = (
  seq: number,
  name: string,
  state: string,
  output = `${name} ${state}`,
  metrics: Array<{ name: string; value: number; uom?: string }> = [],
) =>
  `<check xmlns="urn:jabmon:0" seq="${seq}" time="${new Date().toISOString()}" name="${name}" state="${state}"><output>${output}</output>${metrics
    .map((m) => `<metric name="${m.name}" value="${m.value}"${m.uom ? ` uom="${m.uom}"` : ""}/>`)
    .join("")}</check>`;

export const eventXml = (seq: number, text = `event ${seq}`, severity = "info") =>
  `<event xmlns="urn:jabmon:0" seq="${seq}" time="${new Date().toISOString()}" type="message" severity="${severity}"><text>${text}</text></event>`;
