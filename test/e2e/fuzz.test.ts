/**
 * The CI subset of bench:fuzz (docs/security.md "Hostile input"): 1,500
 * hostile stanzas with a fixed seed, through a real ejabberd c2s session to
 * the component, while an honest agent publishes. Every IQ that reaches the
 * component gets exactly one reply with an error its case allows, the
 * component keeps its link and its heap, and every honest result is applied.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: the harness is plain JavaScript shared with the benchmark.
import { FuzzStack, runFuzz } from "../../bench/fuzz/harness.mjs";
import { replyTo } from "../helpers/iq.js";

interface Figures {
  stanzas_sent: number;
  iqs_expecting_reply: number;
  iqs_answered: number;
  iqs_unanswered: number;
  wrong_replies: number;
  internal_server_errors: number;
  ejabberd_closed_stream: number;
  no_id_sent: number;
  no_id_replies: number;
  honest_accepted: number;
  honest_lost: number;
  honest_in_order: boolean;
  heap_before_mb: number;
  heap_after_mb: number;
  component_link_up: boolean;
  stanza_shape_refused: number;
  families: Record<string, { sent: number; closed: number }>;
}

interface Stack {
  fuzzer: { jid: string };
  client(account: unknown): Promise<import("@xmpp/client").Client>;
  destroy(): Promise<void>;
}

let stack: Stack;
let crashes = 0;
const onCrash = () => {
  crashes++;
};

beforeAll(async () => {
  process.on("uncaughtException", onCrash);
  stack = await FuzzStack.start();
}, 120_000);
afterAll(async () => {
  process.removeListener("uncaughtException", onCrash);
  await stack?.destroy();
}, 60_000);

describe("the component under hostile stanzas", () => {
  it("answers every IQ once with the error its case names, loses no honest result and keeps its heap", async () => {
    const { figures, problems } = (await runFuzz(stack, { count: 1500, seed: 13 })) as {
      figures: Figures;
      problems: unknown[];
    };
    expect(problems).toEqual([]);
    expect(figures.stanzas_sent).toBe(1500);
    expect(figures.wrong_replies).toBe(0);
    expect(figures.internal_server_errors).toBe(0);
    expect(figures.iqs_unanswered).toBe(0);
    expect(figures.iqs_answered).toBe(figures.iqs_expecting_reply);
    expect(figures.iqs_answered).toBeGreaterThan(1000);
    // ejabberd's own defence (unparseable or oversized stanzas) was exercised,
    // and so were the component's shape limits.
    expect(figures.ejabberd_closed_stream).toBeGreaterThan(0);
    expect(figures.stanza_shape_refused).toBeGreaterThan(0);
    // An IQ without id is refused by ejabberd or the component, once each.
    expect(figures.no_id_replies).toBe(figures.no_id_sent);
    expect(figures.component_link_up).toBe(true);
    expect(crashes).toBe(0);
    expect(figures.honest_accepted).toBeGreaterThan(20);
    expect(figures.honest_lost).toBe(0);
    expect(figures.honest_in_order).toBe(true);
    // Heap after warm-up vs. at the end, each after a full GC:
    // a leak of the replies or waiters of 1,500 stanzas would pass this bound.
    expect(figures.heap_after_mb - figures.heap_before_mb).toBeLessThan(32);
  }, 600_000);

  it("refuses on an agent node a payload the monitor cannot read (bad-request + invalid-payload)", async () => {
    const { xml } = await import("@xmpp/client");
    const { errorOf, iq, publishIq } = await import("../helpers/pubsub.js");
    const client = await stack.client(stack.fuzzer);
    const node = `agents/${stack.fuzzer.jid}`;
    const unreadable = [
      xml("n", { xmlns: "urn:x" }),
      xml("check", { xmlns: "urn:jabmon:0", seq: "7" }, xml("check"), xml("check")),
      xml("check", { xmlns: "urn:jabmon:0", seq: "8", name: "load", state: "bogus" }),
    ];
    for (const payload of unreadable) {
      const reply = await iq(client, "monitor.localhost", "set", publishIq(node, payload));
      expect(errorOf(reply)).toEqual(["bad-request", "invalid-payload"]);
    }
    await client.stop();
  });

  it("answers an over-limit stanza with policy-violation without echoing its tree", async () => {
    const client = await stack.client(stack.fuzzer);
    const id = "deep-echo";
    const reply = replyTo(client, id);
    const depth = 1000;
    await client.write(
      `<iq type="set" id="${id}" to="monitor.localhost"><pubsub xmlns="http://jabber.org/protocol/pubsub">${"<a>".repeat(depth)}${"</a>".repeat(depth)}</pubsub></iq>`,
    );
    const answer = await reply;
    expect(answer.attrs.type).toBe("error");
    expect(
      answer.getChild("error")?.getChild("policy-violation", "urn:ietf:params:xml:ns:xmpp-stanzas"),
    ).toBeDefined();
    // The payload element may be echoed (RFC 6120 §8.3.1), its 1,000 levels not.
    expect(answer.getChild("pubsub")?.children ?? []).toEqual([]);
    expect(answer.toString().length).toBeLessThan(1000);
    await client.stop();
  });
});
