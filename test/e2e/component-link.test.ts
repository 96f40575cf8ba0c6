/**
 * The component's link: answers to its IQs must come from the JID asked,
 * waiters never outlive the link or their request, and over-deep stanzas are
 * refused with policy-violation while the component keeps serving.
 */
import type { Client } from "@xmpp/client";
import { xml } from "@xmpp/client";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import { AgentForwarder, FAULTS, RedisRpcQueue, type RpcFault } from "../../src/rpc/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { Keys } from "../../src/store/index.js";
import { el } from "../../src/xmpp/index.js";
import { errorOf, iq, type Xml } from "../helpers/pubsub.js";
import { freePort, useStack } from "../helpers/stack.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";
import { sleep, waitFor } from "../helpers/wait.js";

const NS_HOLD = "urn:jabmon:test:hold";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
let proxy: TcpProxy;
let component: RunningComponent;
// Registered before the stack, so it runs after the stack's cleanup: the component talks through it.
afterAll(async () => {
  await proxy?.close();
});
const stack = useStack("link");

beforeAll(async () => {
  const port = Number(new URL(stack.ejabberd.componentService.replace("xmpp:", "http:")).port);
  proxy = await TcpProxy.start("127.0.0.1", port);
  const config = stack.componentConfig();
  component = await stack.startComponent({ xmpp: { ...config.xmpp, service: proxy.service } });
});

/** A client whose answer to NS_HOLD gets waits until `release()`. */
async function holdingClient(): Promise<{ client: Client; release: () => void }> {
  const client = await stack.client();
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  (
    client as unknown as {
      iqCallee: { get(ns: string, name: string, h: () => Promise<unknown>): void };
    }
  ).iqCallee.get(NS_HOLD, "query", async () => {
    await released;
    return xml("query", { xmlns: NS_HOLD }, xml("real"));
  });
  return { client, release };
}

const fullJid = (client: Client) => String((client as unknown as { jid: unknown }).jid);

function nested(depth: number): Xml {
  let inner = xml("leaf");
  for (let i = 0; i < depth; i++) inner = xml("n", {}, inner);
  return inner;
}

describe("IQ answers", () => {
  it("ignores an answer with the right id from another JID, and takes the asked JID's", async () => {
    const asked = await holdingClient();
    const other = await stack.client();
    const pending = component.link.request(
      el(
        "iq",
        { type: "get", to: fullJid(asked.client), from: component.link.jid, id: "guessable-1" },
        el("query", { xmlns: NS_HOLD }),
      ),
      10_000,
    );
    await other.send(
      xml(
        "iq",
        { type: "result", to: stack.componentJid, id: "guessable-1" },
        xml("query", { xmlns: NS_HOLD }, xml("forged")),
      ),
    );
    await sleep(300);
    asked.release();
    const reply = await pending;
    expect(reply.getChild("query", NS_HOLD)?.getChild("real")).toBeDefined();
    expect(reply.getChild("query", NS_HOLD)?.getChild("forged")).toBeUndefined();
    expect(component.link.pendingRequests()).toBe(0);
  });
});

describe("stanza shape limits", () => {
  it("answers an over-deep IQ with policy-violation and keeps serving", async () => {
    const client = await stack.client();
    const before = component.link.router.refused;
    const deep = await iq(
      client,
      stack.componentJid,
      "get",
      xml("query", { xmlns: NS_DISCO_INFO }, nested(200)),
    );
    expect(errorOf(deep)?.[0]).toBe("policy-violation");
    const fine = await iq(
      client,
      stack.componentJid,
      "get",
      xml("query", { xmlns: NS_DISCO_INFO }),
    );
    expect(errorOf(fine)).toBeUndefined();
    expect(component.link.router.refused).toBe(before + 1);
  });

  it("bounces an over-deep message with policy-violation", async () => {
    const client = await stack.client();
    const errors: Xml[] = [];
    client.on("stanza", (s) => {
      if (s.is("message") && s.attrs.type === "error") errors.push(s);
    });
    await client.send(xml("message", { to: stack.componentJid, id: "deep-1" }, nested(200)));
    const bounced = await waitFor(() => errors.find((e) => e.attrs.id === "deep-1"), {
      timeoutMs: 5000,
      what: "bounce",
    });
    expect(errorOf(bounced)?.[0]).toBe("policy-violation");
  });
});

describe("waiters", () => {
  it("end when the link drops, not at their timeout", async () => {
    const asked = await holdingClient();
    const pending = component.link.request(
      el(
        "iq",
        { type: "get", to: fullJid(asked.client), from: component.link.jid },
        el("query", { xmlns: NS_HOLD }),
      ),
      60_000,
    );
    const outcome = pending.then(
      () => "answered",
      (err: Error) => err.name,
    );
    await waitFor(() => component.link.pendingRequests() === 1, { what: "request pending" });
    proxy.cut();
    const started = Date.now();
    expect(await outcome).toBe("LinkDownError");
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(component.link.pendingRequests()).toBe(0);
    proxy.restore();
    asked.release();
    await waitFor(() => component.link.isOnline(), { timeoutMs: 20_000, what: "link back" });
  });

  it("of the RPC forwarder are removed when queueing fails and when another instance settled the request", async () => {
    const keys = new Keys(stack.prefix);
    const account = await stack.account("rpc-offline");
    const client = await stack.client(account);
    await client.send(xml("presence", { to: stack.componentJid }));
    await waitFor(async () => (await component.hosts.get(account.jid))?.online, { what: "online" });
    await client.stop();
    await waitFor(async () => (await component.hosts.get(account.jid))?.online === false, {
      what: "offline",
    });
    const options = { expiryS: 1, caller: { from: "someone@localhost/x", iqId: "q1" } };
    const forwarder = (queue: RedisRpcQueue) =>
      new AgentForwarder({
        link: component.link,
        hosts: component.hosts,
        queue,
        log: silentLogger(),
        defaultExpiryS: 60,
        maxQueuedPerAgent: 10,
        agentTimeoutMs: 1000,
        sweepMs: 1000,
      });

    // Redis unreachable for the queue: the call fails and leaves no waiter.
    const dead = new Redis(`redis://127.0.0.1:${await freePort()}`, {
      enableOfflineQueue: false,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    dead.on("error", () => {});
    const broken = forwarder(new RedisRpcQueue(dead, keys));
    await expect(broken.call(account.jid, "check.run", ["load"], options)).rejects.toThrow();
    expect(broken.waiting).toBe(0);
    dead.disconnect();

    // Another instance expires (and answers) the request: our waiter ends at its deadline.
    const mine = forwarder(new RedisRpcQueue(component.redis, keys));
    const call = mine.call(account.jid, "check.run", ["load"], options).catch((e: RpcFault) => e);
    await waitFor(() => mine.waiting === 1, { what: "waiter" });
    const otherInstance = new RedisRpcQueue(component.redis, keys);
    expect(await otherInstance.expireDue(Date.now() + 5000)).toHaveLength(1);
    await mine.sweep(Date.now() + 10_000);
    expect(((await call) as RpcFault).code).toBe(FAULTS.JABMON_RPC_EXPIRED);
    expect(mine.waiting).toBe(0);
    mine.stop();
  });
});
