import type { Client } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { RpcStruct, RpcValue } from "../../src/rpc/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { Keys, type Redis } from "../../src/store/index.js";
import { componentChat } from "../helpers/chat.js";
import { checkXml, publishEntry } from "../helpers/ingest.js";
import { rpcCall, rpcValue } from "../helpers/rpc.js";
import { type Account, useStack, waitForHost } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const stack = useStack("rpcalerts");
let component: RunningComponent;
let redis: Redis;
let admin: Account;
let viewer: Account;
let adminClient: Client;
let viewerClient: Client;
const messages: string[] = [];

beforeAll(async () => {
  admin = await stack.account("opsadmin");
  viewer = await stack.account("opsviewer");
  component = await stack.startComponent({
    rpc: { admins: [admin.jid], viewers: [viewer.jid] },
    alerts: { adminJids: [admin.jid] },
  });
  redis = stack.redis();
  adminClient = await componentChat(stack, admin, (body) => messages.push(body));
  viewerClient = await stack.client(viewer);
});

/** One XML-RPC call over XMPP; resolves to the decoded response, or the IQ error's condition. */
async function call(client: Client, method: string, params: RpcValue[] = []) {
  const { reply, response } = await rpcCall(client, stack.componentJid, method, params);
  return (
    response ?? { ok: false as const, error: reply.getChild("error")?.getChildElements()[0]?.name }
  );
}

const value = <T = RpcValue>(client: Client, method: string, params: RpcValue[] = []) =>
  rpcValue<T>(client, stack.componentJid, method, params);

const received = (pattern: RegExp) => messages.filter((m) => pattern.test(m));
const alertsFor = async (jid: string) =>
  (await value<RpcStruct[]>(viewerClient, "alerts.list")).filter((a) => a.jid === jid);

/** When the check's problem is next re-notified (ms), or null when it is not scheduled. */
const reminderDue = async (jid: string, check: string) =>
  redis.zscore(new Keys(stack.prefix).renotifySchedule(), `${jid}|check|${check}`);

async function startAndKill(name: string) {
  const account = await stack.account(name);
  const agent = stack.spawnAgent(account, { JABMON_AGENT_HOST: `${name}.example` });
  await waitForHost(component.httpUrl as string, account.jid, (h) => h.online === true, 15_000);
  agent.kill("SIGKILL");
  return account;
}

describe("alerts over Jabber-RPC", () => {
  let downId = 0;
  let warnId = 0;
  const web = "web01@localhost";
  const db = "db01@localhost";

  it("alerts.list shows a killed agent's host-down alert under the number the admin was sent, worst first", async () => {
    // A warning elsewhere, so the order is visible.
    await publishEntry(redis, stack.prefix, db, 1, checkXml(1, "mail", "warning"));
    const warned = await waitFor(() => received(/db01@localhost.* mail is WARNING/)[0], {
      timeoutMs: 5000,
      what: "warning message",
    });
    warnId = Number(warned.match(/\[#(\d+)\]$/)?.[1]);
    await startAndKill("web01");
    const down = await waitFor(() => received(/web01\.example.* is DOWN/)[0], {
      timeoutMs: 5000,
      what: "down message",
    });
    downId = Number(down.match(/\[#(\d+)\]$/)?.[1]);
    expect(downId).toBeGreaterThan(0);
    expect(warnId).toBeGreaterThan(0);
    expect(downId).not.toBe(warnId);

    const list = await value<RpcStruct[]>(viewerClient, "alerts.list");
    const ids = list.map((a) => a.id);
    expect(ids).toContain(downId);
    expect(ids.indexOf(downId)).toBeLessThan(ids.indexOf(warnId));
    const hostDown = list.find((a) => a.id === downId) as RpcStruct;
    expect(hostDown).toMatchObject({
      kind: "host",
      jid: web,
      host: "web01.example",
      check: "",
      state: "down",
      acknowledged: false,
      silenced: false,
    });
    expect(hostDown.time).toBeInstanceOf(Date);
    expect(Math.abs((hostDown.time as Date).getTime() - Date.now())).toBeLessThan(60_000);
    expect(list.find((a) => a.id === warnId)).toMatchObject({
      kind: "check",
      jid: db,
      check: "mail",
      state: "warning",
    });
    // The same record is scheduled for a reminder (alerts.renotifyMs, 1 h by default).
    expect(Number(await reminderDue(db, "mail"))).toBeGreaterThan(Date.now());
  });

  it("alert.ack by number acknowledges the problem; its next alert is not sent; its recovery is", async () => {
    const acked = await value<RpcStruct>(adminClient, "alert.ack", [warnId, "looking into it"]);
    expect(acked).toMatchObject({
      id: warnId,
      jid: db,
      check: "mail",
      acknowledged: true,
      ackBy: admin.jid,
      ackComment: "looking into it",
    });
    expect(await component.monitor.alerts.listAcks()).toEqual(
      expect.arrayContaining([expect.objectContaining({ jid: db, check: "mail" })]),
    );
    expect((await alertsFor(db))[0]).toMatchObject({ acknowledged: true });
    expect(await reminderDue(db, "mail")).toBeNull();

    // The same problem gets worse: logged as acknowledged, not sent.
    await publishEntry(redis, stack.prefix, db, 2, checkXml(2, "mail", "critical"));
    const logged = await waitFor(
      async () =>
        (await component.monitor.alerts.recent(50)).find(
          (a) => a.jid === db && a.state === "critical",
        ),
      { timeoutMs: 5000, what: "critical alert in the log" },
    );
    expect(logged).toMatchObject({ delivered: false, suppressed: "acknowledged" });
    // The older number still names the problem; the open alert now carries the newer one.
    expect((await alertsFor(db))[0]).toMatchObject({
      id: logged.num,
      state: "critical",
      acknowledged: true,
    });
    expect((await value<RpcStruct>(adminClient, "alert.ack", [warnId])).id).toBe(logged.num);

    await publishEntry(redis, stack.prefix, db, 3, checkXml(3, "mail", "ok"));
    await waitFor(() => received(/db01@localhost.* mail is OK/)[0], {
      timeoutMs: 5000,
      what: "recovery message",
    });
    expect(received(/db01@localhost.*CRITICAL/)).toHaveLength(0);
    expect(await alertsFor(db)).toEqual([]);
    // A recovered problem cannot be acknowledged any more.
    expect(await call(adminClient, "alert.ack", [warnId])).toMatchObject({
      ok: false,
      code: -32001,
      message: /has recovered/,
    });
  });

  it("acknowledging a host-down alert suppresses a later alert of that outage", async () => {
    await value(adminClient, "alert.ack", [downId, "rebooting"]);
    expect((await alertsFor(web))[0]).toMatchObject({ id: downId, acknowledged: true });
    // What a re-notification of the same outage looks like to the dispatcher.
    await component.monitor.alerts.raise({
      kind: "host",
      jid: web,
      host: "web01.example",
      check: "",
      state: "down",
      previous: "down",
      text: "still down",
    });
    const logged = await waitFor(
      async () =>
        (await component.monitor.alerts.recent(50)).find(
          (a) => a.jid === web && a.text === "still down",
        ),
      { timeoutMs: 5000, what: "repeated alert in the log" },
    );
    expect(logged.suppressed).toBe("acknowledged");
    await sleep(300);
    expect(received(/still down/)).toHaveLength(0);
  });

  it("alert.unack withdraws an acknowledgement: reminders resume, of the latest state, and the next alert is sent", async () => {
    const app = "app01@localhost";
    await publishEntry(redis, stack.prefix, app, 1, checkXml(1, "queue", "warning"));
    const open = await waitFor(async () => (await alertsFor(app))[0], {
      timeoutMs: 5000,
      what: "app01's warning among the open alerts",
    });
    const id = Number(open.id);
    await value(adminClient, "alert.ack", [id, "known"]);
    expect(await reminderDue(app, "queue")).toBeNull();
    // Worse while acknowledged: recorded, not sent.
    await publishEntry(redis, stack.prefix, app, 2, checkXml(2, "queue", "critical"));
    await waitFor(async () => (await alertsFor(app))[0]?.state === "critical", {
      timeoutMs: 5000,
      what: "the critical alert recorded",
    });
    expect(await call(viewerClient, "alert.unack", [id])).toMatchObject({
      ok: false,
      error: "forbidden",
    });

    const before = Date.now();
    const unacked = await value<RpcStruct>(adminClient, "alert.unack", [id]);
    expect(unacked).toMatchObject({
      jid: app,
      check: "queue",
      state: "critical",
      acknowledged: false,
    });
    expect((await alertsFor(app))[0]).toMatchObject({ acknowledged: false });
    expect(Number(await reminderDue(app, "queue"))).toBeGreaterThan(before);
    // Reminders repeat the state the problem is in now, which nobody was sent.
    const record = JSON.parse(
      (await redis.hget(new Keys(stack.prefix).openProblems(), `${app}|check|queue`)) as string,
    );
    expect(record.notified).toMatchObject({ state: "critical" });
    expect(await call(adminClient, "alert.unack", [id])).toMatchObject({
      ok: false,
      code: -32001,
      message: /not acknowledged/,
    });

    await publishEntry(redis, stack.prefix, app, 3, checkXml(3, "queue", "unknown"));
    await waitFor(() => received(/app01@localhost.* queue is UNKNOWN/)[0], {
      timeoutMs: 5000,
      what: "the next state sent after unack",
    });
    expect(received(/app01@localhost.* queue is CRITICAL/)).toHaveLength(0);
  });

  it("faults for an unknown alert number and refuses ack to a viewer", async () => {
    expect(await call(adminClient, "alert.ack", [999_999, "x"])).toMatchObject({
      ok: false,
      code: -32001,
      message: "no alert #999999",
    });
    expect(await call(viewerClient, "alert.ack", [downId])).toMatchObject({
      ok: false,
      error: "forbidden",
    });
  });
});

describe("silences over Jabber-RPC", () => {
  it("silence.add, list and remove round-trip, and a silenced host's down alert is not sent", async () => {
    const before = Date.now();
    const silence = await value<RpcStruct>(adminClient, "silence.add", [
      "quiet*",
      "2h",
      "maintenance",
    ]);
    expect(silence).toMatchObject({
      pattern: "quiet*",
      host: "quiet*",
      check: "*",
      comment: "maintenance",
      createdBy: admin.jid,
    });
    expect(typeof silence.id).toBe("number");
    const expires = (silence.expiresAt as Date).getTime();
    expect(expires).toBeGreaterThanOrEqual(before + 7_200_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 7_200_000 + 1000);
    expect((await value<RpcStruct[]>(viewerClient, "silence.list")).map((s) => s.id)).toContain(
      silence.id,
    );

    const quiet = await startAndKill("quiet01");
    const logged = await waitFor(
      async () =>
        (await component.monitor.alerts.recent(50)).find(
          (a) => a.jid === quiet.jid && a.state === "down",
        ),
      { timeoutMs: 5000, what: "silenced alert in the log" },
    );
    expect(logged).toMatchObject({ delivered: false, suppressed: "silenced" });
    expect((await alertsFor(quiet.jid))[0]).toMatchObject({
      state: "down",
      silenced: true,
      silenceId: silence.id,
    });
    await sleep(500);
    expect(received(/quiet01/)).toHaveLength(0);

    expect(await value(adminClient, "silence.remove", [silence.id])).toBe(true);
    expect((await value<RpcStruct[]>(viewerClient, "silence.list")).map((s) => s.id)).not.toContain(
      silence.id,
    );
    expect(await call(adminClient, "silence.remove", [silence.id])).toMatchObject({
      ok: false,
      code: -32001,
    });
    expect((await alertsFor(quiet.jid))[0]).toMatchObject({ silenced: false });
  });

  it("a host/check pattern silences only those checks, and a bad pattern is a fault", async () => {
    const silence = await value<RpcStruct>(adminClient, "silence.add", ["cache01/disk*", 600]);
    expect(silence).toMatchObject({ pattern: "cache01/disk*", host: "cache01", check: "disk*" });
    const jid = "cache01@localhost";
    await publishEntry(redis, stack.prefix, jid, 1, checkXml(1, "disk_root", "critical"));
    await publishEntry(redis, stack.prefix, jid, 2, checkXml(2, "http", "critical"));
    await waitFor(() => received(/cache01@localhost.* http is CRITICAL/)[0], {
      timeoutMs: 5000,
      what: "the unsilenced check's alert",
    });
    const disk = await waitFor(
      async () =>
        (await component.monitor.alerts.recent(50)).find(
          (a) => a.jid === jid && a.check === "disk_root",
        ),
      { timeoutMs: 5000, what: "the silenced check in the log" },
    );
    expect(disk.suppressed).toBe("silenced");
    expect(received(/cache01@localhost.* disk_root/)).toHaveLength(0);
    expect(await call(adminClient, "silence.add", ["", 60])).toMatchObject({
      ok: false,
      code: -32602,
      message: /parameter 'pattern'/,
    });
    expect(await call(viewerClient, "silence.add", ["web*", 60])).toMatchObject({
      ok: false,
      error: "forbidden",
    });
  });
});
