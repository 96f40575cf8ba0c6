/**
 * A long session: tens of thousands of acknowledged publishes on one
 * connection, with and without XEP-0198 stream management (see
 * ../shared/ejabberd-notes.md: ejabberd 23.01 with @xmpp/client 0.14 stalled
 * past a few thousand publishes). The session must stay up the whole time.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentSchema, startAgent } from "../../src/agent/index.js";
import { silentLogger } from "../../src/log/index.js";
import { type PublishSink, startPublishSink } from "../helpers/sink.js";
import { useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const COUNT = Number(process.env.JABMON_SM_PUBLISHES ?? 20_000);
const stack = useStack("agent-sm");
let sink: PublishSink;

beforeAll(async () => {
  sink = await startPublishSink(stack);
});
afterAll(async () => {
  await sink?.stop();
});

describe("a long agent session", () => {
  for (const sm of [false, true]) {
    it(`publishes ${COUNT} results on one session ${sm ? "with" : "without"} stream management`, async () => {
      const account = await stack.account(`long-${sm ? "sm" : "nosm"}`);
      const parsed = agentSchema.safeParse({
        xmpp: {
          service: stack.ejabberd.c2sService,
          jid: account.jid,
          password: account.password,
          streamManagement: sm,
          caFile: stack.caFile,
        },
        checks: [],
        socket: { enabled: false },
        spool: { dir: join(stack.agentDir(account), "spool"), fsync: "never" },
      });
      if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues));
      const agent = await startAgent(parsed.data, silentLogger());
      const started = Date.now();
      for (let i = 1; i <= COUNT; i++) {
        agent.record({ kind: "event", type: "message", severity: "info", text: `n=${i}` });
        // Let the publisher keep up instead of spooling everything first.
        if (i % 500 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      // The node keeps its last max_items items; its counters account for all of them.
      // The node's own sequence counts the items stored (each once); the agent's
      // seqs start where a new spool starts, at the current time in ms.
      await waitFor(async () => (await sink.counters(account.jid)).seq >= COUNT, {
        timeoutMs: 240_000,
        what: `${COUNT} items`,
      });
      const seconds = (Date.now() - started) / 1000;
      const stats = { ...agent.stats };
      await agent.stop();
      const log = await readFile(join(stack.ejabberd.dir, "logs", "ejabberd.log"), "utf8").catch(
        () => "",
      );
      const ackComplaints = log
        .split("\n")
        .filter((l) => /acknowledged|ack queue|max_ack_queue/i.test(l));
      console.log(
        JSON.stringify({
          streamManagement: sm,
          publishes: COUNT,
          seconds,
          perSecond: Math.round(COUNT / seconds),
          ...stats,
          ejabberdAckLines: ackComplaints.length,
          sample: ackComplaints.slice(0, 2),
        }),
      );
      expect(stats.sessions).toBe(1);
      expect(stats.retries).toBe(0);
      // Every result stored exactly once, and the retained tail is consecutive up to the last.
      const counters = await sink.counters(account.jid);
      expect(counters.seq).toBe(COUNT);
      const kept = (await sink.read(account.jid)).map((e) => Number(e.attrs.seq));
      expect(kept).toEqual(
        Array.from(
          { length: counters.maxItems },
          (_, i) => counters.agentSeq - counters.maxItems + i + 1,
        ),
      );
    }, 300_000);
  }
});
