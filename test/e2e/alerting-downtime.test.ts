/**
 * Scheduled downtime (docs/monitor.md, "Alerting for large fleets"), created
 * by RPC over a real ejabberd: a problem inside the window is recorded, not
 * notified; one still open when the window ends is notified then; one that
 * recovered inside the window never is.
 */
import type { Client } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { RpcStruct, RpcValue } from "../../src/rpc/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import type { Redis } from "../../src/store/index.js";
import { askBot, componentChat, startAdminBot } from "../helpers/chat.js";
import { checkXml, publishEntry } from "../helpers/ingest.js";
import { rpcResponse, rpcValue } from "../helpers/rpc.js";
import { type Account, useStack } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const stack = useStack("alerting-downtime");
let component: RunningComponent;
let redis: Redis;
let admin: Client;
let adminAccount: Account;
let bot: Account;
const messages: string[] = [];

beforeAll(async () => {
  adminAccount = await stack.account("admin");
  bot = await stack.account("adminbot");
  component = await stack.startComponent({
    alerts: { adminJids: [adminAccount.jid], renotifyMs: 0 },
    rpc: { admins: [adminAccount.jid, bot.jid] },
    alerting: { tickMs: 200 },
  });
  redis = stack.redis();
  admin = await componentChat(stack, adminAccount, (body) => messages.push(body));
});

const call = (method: string, params: RpcValue[] = []) =>
  rpcResponse(admin, stack.componentJid, method, params);

const value = <T = RpcValue>(method: string, params: RpcValue[] = []) =>
  rpcValue<T>(admin, stack.componentJid, method, params);

describe("scheduled downtime", () => {
  it("records problems inside the window without notifying, and notifies those still open at its end", async () => {
    const WINDOW_S = 4;
    const downtime = await value<RpcStruct>("downtime.add", ["dt0*", WINDOW_S, "kernel upgrade"]);
    expect(downtime).toMatchObject({ pattern: "dt0*", check: "*", comment: "kernel upgrade" });
    const listed = await value<RpcStruct[]>("downtime.list");
    expect(listed.map((d) => d.id)).toContain(downtime.id);
    const api = (await (await fetch(`${component.httpUrl}/api/downtimes`)).json()) as Array<{
      id: string;
    }>;
    expect(api.map((d) => Number(d.id))).toContain(downtime.id);

    // dt01 stays critical past the window; dt02 recovers inside it.
    await publishEntry(redis, stack.prefix, "dt01@localhost", 1, checkXml(1, "kernel", "critical"));
    await publishEntry(redis, stack.prefix, "dt02@localhost", 1, checkXml(1, "kernel", "critical"));
    const logged = await waitFor(
      async () => {
        const recent = await component.monitor.alerts.recent(50);
        const held = recent.filter((a) => a.suppressed === "downtime");
        return held.length >= 2 ? held : undefined;
      },
      { timeoutMs: 10_000, what: "both problems recorded as in downtime" },
    );
    expect(logged[0]?.reason).toMatch(/kernel upgrade/);
    await publishEntry(redis, stack.prefix, "dt02@localhost", 2, checkXml(2, "kernel", "ok"));
    await sleep(1000);
    expect(messages.filter((m) => /dt0[12]/.test(m))).toHaveLength(0);

    const notified = await waitFor(() => messages.find((m) => m.includes("dt01@localhost")), {
      timeoutMs: WINDOW_S * 1000 + 8000,
      what: "dt01's problem notified at the end of the window",
    });
    expect(notified).toMatch(/^PROBLEM: .*check kernel is CRITICAL.*end of downtime/);
    await sleep(1500);
    expect(messages.filter((m) => m.includes("dt02@localhost"))).toHaveLength(0);
    expect(messages.filter((m) => m.includes("dt01@localhost"))).toHaveLength(1);
  });

  it("refuses a bad cron expression with a fault naming it, and removes a downtime", async () => {
    const bad = await call("downtime.add", ["web*", "2h", "weekly", { cron: "61 * * * *" }]);
    expect(bad.ok).toBe(false);
    expect(JSON.stringify(bad)).toMatch(/cron/);
    const weekly = await value<RpcStruct>("downtime.add", [
      "web*/disk*",
      "2h",
      "weekly backup",
      { cron: "0 3 * * 0" },
    ]);
    expect(weekly).toMatchObject({ cron: "0 3 * * 0", durationS: 7200, check: "disk*" });
    expect(await value("downtime.remove", [weekly.id as number])).toBe(true);
    const again = await call("downtime.remove", [weekly.id as number]);
    expect(again.ok).toBe(false);
  });

  it("is scheduled, listed and ended from the AdminBot", async () => {
    const running = await startAdminBot(stack, bot, {
      admins: adminAccount.jid,
      room: "ops-downtime@conference.localhost",
    });
    const ask = (text: string) =>
      askBot(admin, bot.jid, text, { diagnostics: running.state, timeoutMs: 15_000 });
    const added = await ask("downtime web-* 2h 'kernel upgrade'");
    expect(added).toMatch(/^Downtime for web-\* for 2h \(#(\d+)\)/);
    const id = Number(/#(\d+)/.exec(added)?.[1]);
    const stored = await component.monitor.gate.downtimes.list();
    expect(stored.find((d) => Number(d.id) === id)).toMatchObject({
      host: "web-*",
      comment: `${adminAccount.jid}: kernel upgrade`,
    });
    expect(await ask("downtimes")).toMatch(
      new RegExp(`#${id} web-\\* for (2h|1h59m) more: .*kernel upgrade`),
    );
    expect(await ask(`end downtime ${id}`)).toBe(`Downtime #${id} ended.`);
    expect((await component.monitor.gate.downtimes.list()).some((d) => Number(d.id) === id)).toBe(
      false,
    );
  });
});
