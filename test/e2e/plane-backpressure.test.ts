/**
 * Issue 17, "no thundering herd": the component bounds the publishes it
 * stores at once and tells the rest to wait (RFC 6120 resource-constraint,
 * type wait), which the agent's publisher retries; and the ejabberd configs
 * find half-open sessions with XEP-0199 pings within the documented bound.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@xmpp/client";
import yaml from "js-yaml";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { ejabberdYaml } from "../../src/stack/index.js";
import { check, iq, publishIq, type Xml } from "../helpers/pubsub.js";
import { useStack } from "../helpers/stack.js";

const stack = useStack("backpressure");
let component: RunningComponent;
let client: Client;
let jid: string;

beforeAll(async () => {
  component = await stack.startComponent({ pubsub: { maxPublishesInFlight: 2 } });
  void component;
  const account = await stack.account("bp-agent");
  jid = account.jid;
  client = await stack.client(account);
}, 60_000);

const errorType = (reply: Xml) => reply.getChild("error")?.attrs.type as string | undefined;
const condition = (reply: Xml) =>
  reply
    .getChild("error")
    ?.getChildElements()
    .find((c) => c.attrs.xmlns === "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name !== "text")
    ?.name;

describe("back-pressure on publishes", () => {
  it("refuses publishes beyond the bound with a wait resource-constraint and stores them on retry", async () => {
    const node = `agents/${jid}`;
    const seqs = Array.from({ length: 40 }, (_, i) => i + 1);
    const replies = await Promise.all(
      seqs.map((seq) => iq(client, stack.componentJid, "set", publishIq(node, check(seq)))),
    );
    const refused = seqs.filter((_, i) => replies[i]?.attrs.type === "error");
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThan(seqs.length);
    for (const [i, reply] of replies.entries())
      if (reply.attrs.type === "error") {
        expect(condition(reply), `seq ${seqs[i]}`).toBe("resource-constraint");
        expect(errorType(reply)).toBe("wait");
      }
    // The publisher's retry, one at a time: every one is taken.
    for (const seq of refused) {
      const reply = await iq(client, stack.componentJid, "set", publishIq(node, check(seq)));
      expect(reply.attrs.type).toBe("result");
    }
  });
});

type Yaml = {
  modules?: Record<string, Record<string, unknown>>;
  listen?: Array<Record<string, unknown>>;
};
const configs: Array<[string, Yaml]> = [
  [
    "ejabberd.yml",
    yaml.load(readFileSync(join(import.meta.dirname, "../../ejabberd.yml"), "utf8")) as Yaml,
  ],
  [
    "docker/ejabberd.yml",
    yaml.load(readFileSync(join(import.meta.dirname, "../../docker/ejabberd.yml"), "utf8")) as Yaml,
  ],
  [
    "the test stack with pings",
    yaml.load(
      ejabberdYaml({
        domain: "localhost",
        c2sPort: 1,
        componentPort: 2,
        componentJid: "monitor.localhost",
        componentPassword: "p",
        bindIp: "127.0.0.1",
        pings: { intervalS: 30, ackTimeoutS: 15 },
      }),
    ) as Yaml,
  ],
];

describe.each(configs)("%s", (_, config) => {
  it("kills a session that does not answer a ping, within 60 s of its last traffic", () => {
    const ping = config.modules?.mod_ping ?? {};
    expect(ping.send_pings).toBe(true);
    expect(ping.timeout_action).toBe("kill");
    expect(Number(ping.ping_interval) + Number(ping.ping_ack_timeout)).toBeLessThan(60);
  });

  it("bounds the queue of a c2s session that does not read", () => {
    const c2s = config.listen?.find((l) => l.module === "ejabberd_c2s");
    expect(c2s?.max_fsm_queue).toBe(10000);
  });
});
