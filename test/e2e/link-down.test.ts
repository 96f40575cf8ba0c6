/**
 * The component's own link to ejabberd goes down (a TCP proxy between them is
 * cut): the monitor is the blind one, so no host is declared down for the
 * silence, hosts that really went away are still found once the link is back,
 * and alerts raised meanwhile are delivered after it returns.
 */
import type { Client } from "@xmpp/client";
import { xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { type Account, useStack } from "../helpers/stack.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";
import { sleep, waitFor } from "../helpers/wait.js";

const STALE_MS = 1500;
let proxy: TcpProxy;
let component: RunningComponent;
let admin: Account;
let offlineAdmin: Account;
const timers: NodeJS.Timeout[] = [];
// Registered before the stack, so it runs after the stack's cleanup: the component talks through it.
afterAll(async () => {
  await proxy?.close();
});
const stack = useStack("linkdown");

beforeAll(async () => {
  const port = Number(new URL(stack.ejabberd.componentService.replace("xmpp:", "http:")).port);
  proxy = await TcpProxy.start("127.0.0.1", port);
  admin = await stack.account("admin-online");
  offlineAdmin = await stack.account("admin-offline");
  const config = stack.componentConfig();
  component = await stack.startComponent({
    xmpp: { ...config.xmpp, service: proxy.service },
    monitor: { agentDomains: [stack.domain], presenceConfirmMs: 3000, staleMs: STALE_MS },
    alerts: {
      adminJids: [admin.jid, offlineAdmin.jid],
      retryBackoffMs: 200,
      retryMaxBackoffMs: 500,
    },
  });
});
afterAll(() => {
  for (const t of timers) clearInterval(t);
});

/** A client that behaves as an agent does: fresh presence every 400 ms, answers the component's presence. */
async function agentLike(account: Account): Promise<Client> {
  const client = await stack.client(account);
  const announce = () =>
    client
      .send(xml("presence", { to: stack.componentJid }, xml("status", {}, "here")))
      .catch(() => {});
  client.on("stanza", (s) => {
    if (s.is("presence") && s.attrs.from === stack.componentJid && !s.attrs.type) void announce();
  });
  await client.send(xml("presence"));
  await announce();
  timers.push(setInterval(announce, 400));
  return client;
}

async function hostOnline(jid: string): Promise<boolean> {
  return (await component.hosts.get(jid))?.online === true;
}

describe("the component's link to ejabberd is down longer than staleMs", () => {
  it("marks no host down meanwhile, finds the host that really left, and delivers alerts raised while blind", async () => {
    const alive = [await stack.account("alive01"), await stack.account("alive02")];
    const leaving = await stack.account("leaving01");
    for (const account of alive) await agentLike(account);
    const leaver = await stack.client(leaving);
    await leaver.send(xml("presence"));
    const announceLeaver = () =>
      leaver.send(xml("presence", { to: stack.componentJid })).catch(() => {});
    await announceLeaver();
    const leaverTimer = setInterval(announceLeaver, 400);
    timers.push(leaverTimer);
    for (const a of [...alive, leaving])
      await waitFor(() => hostOnline(a.jid), { timeoutMs: 5000, what: `${a.jid} online` });

    const downs: string[] = [];
    component.monitor.liveness.on("down", (jid) => downs.push(jid));
    const adminClient = await stack.client(admin);
    await adminClient.send(xml("presence"));
    const adminBodies: string[] = [];
    adminClient.on("stanza", (s) => {
      if (s.is("message") && s.attrs.from === stack.componentJid)
        adminBodies.push(s.getChildText("body") ?? "");
    });

    proxy.cut();
    await waitFor(() => !component.link.isOnline(), { timeoutMs: 5000, what: "link down" });
    // The leaving host really goes away while we are blind: its unavailable presence is lost.
    clearInterval(leaverTimer);
    await leaver.stop();
    const raisedId = await component.monitor.alerts.raise({
      kind: "nagios",
      jid: "blind-time",
      host: "blind-time",
      check: "disk",
      state: "critical",
      previous: "",
      text: "raised while the link was down",
    });
    await sleep(STALE_MS * 3);
    for (const a of [...alive, leaving]) expect(await hostOnline(a.jid)).toBe(true);
    expect(downs).toEqual([]);
    // Not delivered, and not counted as delivered.
    const dispatched = await waitFor(
      async () => (await component.monitor.alerts.recent(20)).find((a) => a.id === raisedId),
      { timeoutMs: 5000, what: "alert dispatched" },
    );
    expect(dispatched.delivered).toBe(false);
    expect(dispatched.deferred).toEqual(["xmpp"]);

    proxy.restore();
    await waitFor(() => component.link.isOnline(), { timeoutMs: 20_000, what: "link back" });
    await waitFor(() => adminBodies.some((b) => b.includes("raised while the link was down")), {
      timeoutMs: 10_000,
      what: "deferred alert at the admin",
    });
    // The leaver did not answer the re-probe: found within presenceConfirmMs, with its own reason.
    await waitFor(async () => !(await hostOnline(leaving.jid)), {
      timeoutMs: 10_000,
      what: "leaver marked offline",
    });
    expect((await component.hosts.get(leaving.jid))?.offlineReason).toBe(
      "no presence after the component reconnected",
    );
    // The hosts that stayed are not declared down, before or after a full stale period.
    await sleep(STALE_MS * 2);
    for (const a of alive) expect(await hostOnline(a.jid)).toBe(true);
    expect(downs).toEqual([leaving.jid]);
    expect(await component.monitor.alerts.retry.pending("xmpp")).toBe(0);

    // The admin who was offline all along gets the alert from ejabberd's offline storage.
    const late = await stack.client(offlineAdmin);
    const lateBodies: string[] = [];
    late.on("stanza", (s) => {
      if (s.is("message") && s.attrs.from === stack.componentJid)
        lateBodies.push(s.getChildText("body") ?? "");
    });
    await late.send(xml("presence"));
    await waitFor(() => lateBodies.some((b) => b.includes("raised while the link was down")), {
      timeoutMs: 10_000,
      what: "offline message at login",
    });
  }, 90_000);

  it("a restarted component does not count its own downtime as the hosts' silence", async () => {
    // Answers the component's presence slowly (a loaded fleet answering a re-probe),
    // within presenceConfirmMs but after several stale sweeps.
    const slow = await stack.account("slow01");
    const client = await stack.client(slow);
    const announce = () => client.send(xml("presence", { to: stack.componentJid })).catch(() => {});
    client.on("stanza", (s) => {
      if (s.is("presence") && s.attrs.from === stack.componentJid && !s.attrs.type)
        setTimeout(announce, 1500);
    });
    await client.send(xml("presence"));
    await announce();
    await waitFor(() => hostOnline(slow.jid), { timeoutMs: 5000, what: "online" });
    await component.stop();
    await sleep(STALE_MS * 2);
    const config = stack.componentConfig();
    component = await stack.startComponent({
      xmpp: { ...config.xmpp, service: proxy.service },
      monitor: { agentDomains: [stack.domain], presenceConfirmMs: 3000, staleMs: STALE_MS },
    });
    await sleep(3000);
    expect(await hostOnline(slow.jid)).toBe(true);
    const recent = await component.monitor.alerts.recent(50);
    expect(recent.filter((a) => a.jid === slow.jid && a.state === "down")).toEqual([]);
  }, 60_000);
});
