/**
 * rpc.maxPendingPerCaller (docs/rpc.md, docs/security.md "Limits"): one bare
 * JID's calls waiting for an answer are bounded; the next is answered at once
 * with fault -32007 and nothing is queued for it.
 */
import type { Client } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { RpcValue } from "../../src/rpc/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { Keys } from "../../src/store/index.js";
import { rpcResponse } from "../helpers/rpc.js";
import { type Account, useStack, waitForHost } from "../helpers/stack.js";

const stack = useStack("rpc-pending");
let component: RunningComponent;
let admin: Account;
let adminClient: Client;

beforeAll(async () => {
  admin = await stack.account("pendingadmin");
  component = await stack.startComponent({
    rpc: { admins: [admin.jid], maxPendingPerCaller: 3, offlineExpiryS: 60 },
  });
  adminClient = await stack.client(admin);
}, 90_000);

const call = (client: Client, method: string, params: RpcValue[]) =>
  rpcResponse(client, stack.componentJid, method, params);

describe("pending RPC calls per caller", () => {
  it("answers the call past rpc.maxPendingPerCaller with fault -32007 at once, and frees the slot when a call ends", async () => {
    const account = await stack.account("pending01");
    const agent = stack.spawnAgent(account, { JABMON_AGENT_HOST: "pending01.example" });
    const url = component.httpUrl as string;
    await waitForHost(url, account.jid, (h) => h.online === true, 15_000);
    agent.kill("SIGKILL");
    await waitForHost(url, account.jid, (h) => h.online === false, 10_000);

    const queueKey = new Keys(stack.prefix).rpcQueue(account.jid);
    // Three calls queue for the offline agent (expiry 60 s) and wait.
    const waiting = [1, 2, 3].map(() => call(adminClient, "check.run", [account.jid, "load", 60]));
    const deadline = Date.now() + 5000;
    while ((await component.redis.llen(queueKey)) < 3) {
      if (Date.now() > deadline) throw new Error("the calls were not queued");
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = Date.now();
    const refused = await call(adminClient, "check.run", [account.jid, "load", 60]);
    expect(refused).toMatchObject({ ok: false, code: -32007, message: /maxPendingPerCaller/ });
    expect(Date.now() - started).toBeLessThan(5000);
    // Even a quick read method is refused while the caller is at its bound...
    expect(await call(adminClient, "system.listMethods", [])).toMatchObject({ code: -32007 });
    expect(await component.redis.llen(queueKey)).toBe(3);

    // ...and allowed again once the waiting calls end (here: expired by a sweep "later").
    await component.rpc.forwarder.sweep(Date.now() + 10 * 60_000);
    const settled = await Promise.all(waiting);
    for (const r of settled) expect(r).toMatchObject({ ok: false, code: -32003 });
    expect(await call(adminClient, "system.listMethods", [])).toMatchObject({ ok: true });
  }, 60_000);
});
