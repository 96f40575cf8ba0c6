/**
 * Several component processes on one component JID (docs/deploy.md,
 * "Scale-out"): ejabberd routes each stanza for the JID to any of the
 * connections, so an agent's reply to an RPC call may reach another instance
 * than the one that sent the call. Every call must still get its answer.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { RpcValue } from "../../src/rpc/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { rpcResponse } from "../helpers/rpc.js";
import { type Account, useStack, waitForHost } from "../helpers/stack.js";

const stack = useStack("scaleout");
let components: RunningComponent[];
let admin: Client;
let agentAccount: Account;

const AGENT_CONFIG = join(mkdtempSync(join(tmpdir(), "jabmon-scale-")), "agent.yml");
writeFileSync(AGENT_CONFIG, "checks:\n  - { type: uptime, name: uptime }\n");

beforeAll(async () => {
  const adminAccount = await stack.account("scaleadmin");
  agentAccount = await stack.account("scaleweb");
  const rpc = { admins: [adminAccount.jid], agentTimeoutMs: 4000 };
  components = [await stack.startComponent({ rpc }), await stack.startComponent({ rpc })];
  admin = await stack.client(adminAccount);
  stack.spawnAgent(agentAccount, { JABMON_AGENT_CONFIG: AGENT_CONFIG });
  await waitForHost(
    components[0]?.httpUrl as string,
    agentAccount.jid,
    (h) => h.online === true,
    20_000,
  );
}, 120_000);

const call = (method: string, params: RpcValue[]) =>
  rpcResponse(admin, stack.componentJid, method, params, { timeoutMs: 15_000 });

describe("two component processes on one JID", () => {
  it("answers every check.run, whichever instance the agent's reply reaches", async () => {
    const outcomes = [];
    for (let n = 0; n < 12; n++)
      outcomes.push(await call("check.run", [agentAccount.jid, "uptime"]));
    const failed = outcomes.filter((o) => !o.ok);
    expect(failed).toEqual([]);
    expect(outcomes.every((o) => o.ok && (o.value as { name: string }).name === "uptime")).toBe(
      true,
    );
  }, 240_000);
});
