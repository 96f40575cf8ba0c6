/**
 * `<results xmlns="urn:jabmon:0" node="agents/…"/>` (docs/protocol.md,
 * "Replaying a backlog") through a real ejabberd and Redis: many results in
 * one IQ, each stored and answered exactly as its own publish would be, in
 * order; replays idempotent; a refused result does not stop the others; the
 * same authorisation as a publish.
 */
import { type Client, xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeIngestEntry } from "../../src/monitor/ingest/consumer.js";
import { ingestShard, Keys, type Redis } from "../../src/store/index.js";
import {
  available,
  check,
  errorOf,
  iq,
  NS_JABMON,
  NS_STANZAS,
  publishIq,
  type Xml,
} from "../helpers/pubsub.js";
import { type Account, useStack } from "../helpers/stack.js";

const stack = useStack("pubsub-results");
let redis: Redis;
let keys: Keys;

beforeAll(async () => {
  await stack.startComponent({
    monitor: { agentDomains: [stack.domain], agents: ["agent-*@localhost"] },
  });
  redis = stack.redis();
  keys = new Keys(stack.prefix);
});

async function online(): Promise<{ account: Account; client: Client }> {
  const account = await stack.account();
  const client = await stack.client(account);
  await available(client);
  return { account, client };
}

const results = (node: string, ...payloads: Xml[]) =>
  xml("results", { xmlns: NS_JABMON, node }, ...payloads);

const set = (c: Client, payload: Xml) => iq(c, stack.componentJid, "set", payload);

/** Each result's outcome in the reply, in order: [name, seq, error condition]. */
function outcomes(reply: Xml): Array<[string, string | undefined, string | undefined]> {
  expect(reply.attrs.type).toBe("result");
  return (reply.getChild("results", NS_JABMON)?.getChildElements() ?? []).map((o) => [
    o.name,
    o.attrs.seq,
    o
      .getChild("error")
      ?.getChildElements()
      .find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== "text")?.name,
  ]);
}

async function ingestedSeqs(jid: string): Promise<Array<number | undefined>> {
  const entries = await redis.xrange(keys.ingest(ingestShard(jid)), "-", "+");
  return entries
    .map(([id, fields]) => decodeIngestEntry(id, fields))
    .filter((e) => e.node === `agents/${jid}`)
    .map((e) => e.agentSeq);
}

describe("<results/>", () => {
  it("is offered in the component's disco#info", async () => {
    const { client } = await online();
    const info = await iq(
      client,
      stack.componentJid,
      "get",
      xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
    );
    const features = info
      .getChild("query")
      ?.getChildren("feature")
      .map((f) => f.attrs.var);
    expect(features).toContain("urn:jabmon:0#results");
  });

  it("stores every result in order as items s<seq>, and a replay stores nothing again", async () => {
    const { account, client } = await online();
    const node = `agents/${account.jid}`;
    const first = await set(client, results(node, check(1), check(2), check(3)));
    expect(outcomes(first)).toEqual([
      ["stored", "1", undefined],
      ["stored", "2", undefined],
      ["stored", "3", undefined],
    ]);
    // Overlapping the first: 2 and 3 are replays, acknowledged again, stored once.
    const again = await set(client, results(node, check(2), check(3), check(4)));
    expect(outcomes(again).map(([name, seq]) => [name, seq])).toEqual([
      ["stored", "2"],
      ["stored", "3"],
      ["stored", "4"],
    ]);
    expect(await ingestedSeqs(account.jid)).toEqual([1, 2, 3, 4]);
    expect(await redis.zrange(keys.psItems(node), 0, -1)).toEqual(["s1", "s2", "s3", "s4"]);
    // Stored with its namespace, as a publish stores it (ejabberd drops it inside <results/>).
    const stored = await redis.hget(keys.psItemData(node), "s1");
    expect(stored).toContain('xmlns="urn:jabmon:0"');
  });

  it("answers a refused result with its publish's error and stores the ones around it", async () => {
    const { account, client } = await online();
    const node = `agents/${account.jid}`;
    const notAResult = xml("check", { xmlns: NS_JABMON, seq: "11", time: "yesterday" });
    const reply = await set(client, results(node, check(10), notAResult, check(12)));
    expect(outcomes(reply)).toEqual([
      ["stored", "10", undefined],
      ["refused", "11", "bad-request"],
      ["stored", "12", undefined],
    ]);
    // The same payload as a publish gets the same refusal.
    expect(errorOf(await set(client, publishIq(node, notAResult)))?.[0]).toBe("bad-request");
    expect(await ingestedSeqs(account.jid)).toEqual([10, 12]);
  });

  it("refuses a result whose seq went back with <seq-regressed/>, as a publish is", async () => {
    const { account, client } = await online();
    const node = `agents/${account.jid}`;
    await set(client, publishIq(node, check(5_000_000)));
    const reply = await set(client, results(node, check(7), check(5_000_001)));
    expect(outcomes(reply)).toEqual([
      ["refused", "7", "unexpected-request"],
      ["stored", "5000001", undefined],
    ]);
    const refused = reply.getChild("results", NS_JABMON)?.getChild("refused");
    expect(refused?.getChild("error")?.getChild("seq-regressed", NS_JABMON)?.attrs.high).toBe(
      "5000000",
    );
    expect(await ingestedSeqs(account.jid)).toEqual([5_000_000, 5_000_001]);
  });

  it("refuses every result sent to another agent's node, and stores none", async () => {
    const { client } = await online();
    const { account: other } = await online();
    const reply = await set(client, results(`agents/${other.jid}`, check(1), check(2)));
    expect(outcomes(reply).map(([name, , condition]) => [name, condition])).toEqual([
      ["refused", "forbidden"],
      ["refused", "forbidden"],
    ]);
    expect(await redis.exists(keys.psNode(`agents/${other.jid}`))).toBe(0);
  });

  it("refuses a request with no results, too many, or a node that is not an agent's", async () => {
    const { account, client } = await online();
    const node = `agents/${account.jid}`;
    const many = Array.from({ length: 101 }, (_, k) => check(k + 1));
    expect(errorOf(await set(client, results(node, ...many)))?.[0]).toBe("bad-request");
    expect(errorOf(await set(client, results(node)))?.[0]).toBe("bad-request");
    expect(errorOf(await set(client, results("plain-node", check(1))))?.[0]).toBe("bad-request");
    expect(await redis.exists(keys.psNode(node))).toBe(0);
  });
});
