/**
 * The `hosts` pubsub node the live XMPP view follows: one item per host,
 * published when what it shows changes, and rebuilt whole when an operator
 * deleted the node.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { HOSTS_NODE } from "../../src/gateway/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { type Account, type TestStack, useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const AGENT_CONFIG = join(mkdtempSync(join(tmpdir(), "jabmon-hosts-node-")), "agent.yml");
writeFileSync(AGENT_CONFIG, "checks:\n  - { type: uptime, name: uptime }\n");

const stack = useStack("gateway-hosts-node");
let component: RunningComponent;
let steady: Account;
let doomed: Account;
let doomedAgent: ReturnType<TestStack["spawnAgent"]>;

beforeAll(async () => {
  steady = await stack.account("hnsteady01");
  doomed = await stack.account("hndoomed01");
  // Every host is rescored twice a second: each rescore is a change on the Redis channel.
  // No status page: the node follows the changes with a HostIndex of its own.
  component = await stack.startComponent({
    monitor: { scoreIntervalMs: 500 },
    http: { enabled: false },
  });
  const env = { JABMON_AGENT_CONFIG: AGENT_CONFIG };
  stack.spawnAgent(steady, { ...env, JABMON_AGENT_HOST: "hnsteady01.example" });
  doomedAgent = stack.spawnAgent(doomed, { ...env, JABMON_AGENT_HOST: "hndoomed01.example" });
  for (const account of [steady, doomed])
    await waitFor(async () => (await component.hosts.get(account.jid))?.online, {
      timeoutMs: 15_000,
      what: `${account.jid} online`,
    });
}, 60_000);

const itemIds = () => component.pubsub.store.itemIds(HOSTS_NODE);
const nodeSeq = async () => (await component.pubsub.store.node(HOSTS_NODE))?.seq ?? -1;

describe("the hosts node", () => {
  it("holds one item per host, and publishes nothing when only the score or lastSeen changed", async () => {
    await waitFor(async () => (await itemIds()).length === 2, {
      timeoutMs: 10_000,
      what: "two items",
    });
    expect((await itemIds()).sort()).toEqual([doomed.jid, steady.jid].sort());
    // Let the agents' first results and states settle, then watch the node.
    await sleep(2000);
    const before = await nodeSeq();
    await sleep(3000);
    expect(await nodeSeq()).toBe(before);
  });

  it("is created again, with every host in it, after an operator deleted it", async () => {
    await component.pubsub.store.delete(HOSTS_NODE);
    expect(await component.pubsub.store.node(HOSTS_NODE)).toBeUndefined();
    doomedAgent.kill("SIGKILL");
    await waitFor(async () => (await itemIds()).length === 2, {
      timeoutMs: 10_000,
      what: "both items back",
    });
    expect((await itemIds()).sort()).toEqual([doomed.jid, steady.jid].sort());
    const [item] = await component.pubsub.store.itemsByIds(HOSTS_NODE, [doomed.jid]);
    expect(String(item?.payload)).toContain('state="down"');
  });
});
