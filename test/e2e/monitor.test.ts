import { xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { Keys, type Redis } from "../../src/store/index.js";
import { componentChat } from "../helpers/chat.js";
import { checkXml, publishEntry } from "../helpers/ingest.js";
import { type Account, REDIS_URL, useStack, waitForHost } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

const stack = useStack("monitor");
let component: RunningComponent;
let redis: Redis;
let adminAccount: Account;
const messages: Array<{ body: string; at: number }> = [];

beforeAll(async () => {
  adminAccount = await stack.account("admin");
  component = await stack.startComponent({
    alerts: { adminJids: [adminAccount.jid] },
  });
  redis = stack.redis();
  await componentChat(stack, adminAccount, (body) => messages.push({ body, at: Date.now() }));
});

const received = (pattern: RegExp) => messages.filter((m) => pattern.test(m.body));

describe("host liveness alerts", () => {
  it("sends the admin a 'host down' message within 2 s of an agent's SIGKILL, and a recovery", async () => {
    const account = await stack.account("down01");
    const agent = stack.spawnAgent(account);
    await waitForHost(component.httpUrl as string, account.jid, (h) => h.online === true, 15_000);
    const killedAt = Date.now();
    agent.kill("SIGKILL");
    const message = await waitFor(() => received(/down01@localhost.* is DOWN/)[0], {
      timeoutMs: 2000,
      what: "host down message",
    });
    expect(message.at - killedAt).toBeLessThan(2000);
    expect(message.body).toMatch(/^PROBLEM: host .*down01@localhost.* is DOWN: went offline/);

    stack.spawnAgent(account);
    await waitFor(() => received(/RECOVERY: host .*down01@localhost.* is UP/)[0], {
      timeoutMs: 15_000,
      what: "recovery message",
    });
    expect(received(/down01@localhost.* is DOWN/)).toHaveLength(1);
  });

  it("sends nothing for a silenced host, and logs the alert as silenced", async () => {
    const account = await stack.account("quiet01");
    const silence = await component.monitor.alerts.addSilence({
      host: "quiet*",
      comment: "maintenance",
      durationMs: 60_000,
    });
    expect((await component.monitor.alerts.listSilences()).map((s) => s.id)).toContain(silence.id);
    const agent = stack.spawnAgent(account);
    await waitForHost(component.httpUrl as string, account.jid, (h) => h.online === true, 15_000);
    agent.kill("SIGKILL");
    const logged = await waitFor(
      async () =>
        (await component.monitor.alerts.recent(20)).find(
          (a) => a.jid === account.jid && a.state === "down",
        ),
      { timeoutMs: 3000, what: "silenced alert in the log" },
    );
    expect(logged).toMatchObject({ delivered: false, suppressed: "silenced" });
    await sleep(500);
    expect(received(/quiet01/)).toHaveLength(0);
    expect(await component.monitor.alerts.removeSilence(silence.id)).toBe(true);
  });
});

describe("check alerts", () => {
  it("sends one alert per state change, not one per result", async () => {
    const jid = "steady01@localhost";
    let seq = 0;
    for (const state of ["ok", "ok", "critical", "critical", "critical", "ok", "ok"])
      await publishEntry(redis, stack.prefix, jid, ++seq, checkXml(seq, "http", state));
    await waitFor(() => received(/steady01.*check http is OK/)[0], {
      timeoutMs: 5000,
      what: "recovery",
    });
    // A problem ends with its number ("ack 42"); a recovery has none.
    expect(received(/steady01/).map((m) => m.body.replace(/: .*? check/, " check"))).toEqual([
      expect.stringMatching(/^PROBLEM check http is CRITICAL \(was ok\): http critical \[#\d+\]$/),
      "RECOVERY check http is OK (was critical): http ok",
    ]);
  });

  it("keeps a check at its newer result when an older one is processed after it (overtaken publish)", async () => {
    // As when ejabberd spreads an agent's in-flight publishes over several
    // component connections: node order 1, 2, 3 carries agent seqs 10, 12, 11.
    const jid = "overtaken01@localhost";
    const keys = new Keys(stack.prefix);
    await publishEntry(redis, stack.prefix, jid, 1, checkXml(10, "disk", "ok"));
    await publishEntry(
      redis,
      stack.prefix,
      jid,
      2,
      checkXml(12, "disk", "critical", "disk critical", [{ name: "/", value: 97 }]),
    );
    await publishEntry(
      redis,
      stack.prefix,
      jid,
      3,
      checkXml(11, "disk", "ok", "disk ok", [{ name: "/", value: 41 }]),
    );
    await waitFor(async () => (await redis.hget(keys.host(jid), "processedSeq")) === "3", {
      timeoutMs: 5000,
      what: "all three processed",
    });
    expect(await redis.hmget(keys.check(jid, "disk"), "state", "lastSeq", "output")).toEqual([
      "critical",
      "12",
      "disk critical",
    ]);
    // The older result's sample is still recorded; its state alerted nobody.
    expect(await redis.zcard(keys.metricRaw(jid, "disk//"))).toBe(2);
    await sleep(500);
    expect(received(/overtaken01/).map((m) => m.body)).toEqual([
      expect.stringMatching(/^PROBLEM: .*check disk is CRITICAL \(was ok\)/),
    ]);
  });

  it("sends one flapping alert for a flapping check, not twenty", async () => {
    const jid = "flappy01@localhost";
    for (let seq = 1; seq <= 20; seq++)
      await publishEntry(
        redis,
        stack.prefix,
        jid,
        seq,
        checkXml(seq, "db", seq % 2 ? "critical" : "ok"),
      );
    await waitFor(
      async () => (await component.monitor.status.hostDetail(jid))?.host.processedSeq === 20,
      { timeoutMs: 5000, what: "all 20 results processed" },
    );
    await sleep(500);
    const flapping = received(/flappy01.*is flapping/);
    expect(flapping).toHaveLength(1);
    // A few changes alert before the percentage crosses the threshold; then silence.
    const all = received(/flappy01/);
    expect(all.length).toBeLessThanOrEqual(5);
    expect(all[all.length - 1]?.body).toMatch(/FLAPPING/);
    const detail = await component.monitor.status.hostDetail(jid);
    expect(detail?.checks[0]).toMatchObject({ name: "db", flapping: true });
  });

  it("reports a check that stops flapping in a bad state as a problem again", async () => {
    const jid = "settled01@localhost";
    const states = [
      ...Array.from({ length: 20 }, (_, i) => (i % 2 ? "ok" : "critical")),
      ...Array.from({ length: 25 }, () => "critical"),
    ];
    for (const [i, state] of states.entries())
      await publishEntry(redis, stack.prefix, jid, i + 1, checkXml(i + 1, "db", state));
    await waitFor(() => received(/settled01.*FLAPPING STOPPED|FLAPPING STOPPED.*settled01/)[0], {
      timeoutMs: 8000,
      what: "flapping stopped",
    });
    await sleep(500);
    const bodies = received(/settled01/).map((m) => m.body);
    const stopped = bodies.findIndex((b) => b.startsWith("FLAPPING STOPPED"));
    expect(bodies.slice(stopped + 1)).toEqual([
      expect.stringMatching(/^PROBLEM: .*check db is CRITICAL/),
    ]);
    const problems = await component.monitor.problems.list();
    expect(problems.find((p) => p.alert.jid === jid)?.alert).toMatchObject({
      kind: "check",
      state: "critical",
    });
  });

  it("stops notifying an acknowledged problem until it recovers", async () => {
    const jid = "acked01@localhost";
    await publishEntry(redis, stack.prefix, jid, 1, checkXml(1, "mail", "warning"));
    await waitFor(() => received(/acked01.*mail is WARNING/)[0], { timeoutMs: 5000 });
    await component.monitor.alerts.acknowledge(jid, "mail", "admin", "looking at it");
    await publishEntry(redis, stack.prefix, jid, 2, checkXml(2, "mail", "critical"));
    const logged = await waitFor(
      async () =>
        (await component.monitor.alerts.recent(20)).find(
          (a) => a.jid === jid && a.state === "critical",
        ),
      { timeoutMs: 5000 },
    );
    expect(logged.suppressed).toBe("acknowledged");
    await publishEntry(redis, stack.prefix, jid, 3, checkXml(3, "mail", "ok"));
    await waitFor(() => received(/acked01.*mail is OK/)[0], { timeoutMs: 5000 });
    expect(received(/acked01.*CRITICAL/)).toHaveLength(0);
    expect(await component.monitor.alerts.listAcks()).toEqual([]);
  });
});

describe("badness scoring", () => {
  it("scores a host with a nearly full disk and high load as critical and stores the breakdown", async () => {
    const account = await stack.account("busy01");
    const client = await stack.client(account);
    await client.send(xml("presence", { to: stack.componentJid }, xml("status", {}, "busy")));
    await waitForHost(component.httpUrl as string, account.jid, (h) => h.online === true, 5000);
    let seq = 0;
    await publishEntry(
      redis,
      stack.prefix,
      account.jid,
      ++seq,
      checkXml(seq, "cpu", "ok", "cpus", [{ name: "cpus", value: 2 }]),
    );
    await publishEntry(
      redis,
      stack.prefix,
      account.jid,
      ++seq,
      checkXml(seq, "disk_var", "critical", "DISK CRITICAL /var 98%", [
        { name: "/var", value: 98, uom: "%" },
      ]),
    );
    await publishEntry(
      redis,
      stack.prefix,
      account.jid,
      ++seq,
      checkXml(seq, "load", "warning", "load 9.3", [{ name: "load5", value: 9.3 }]),
    );
    const score = await waitFor(
      async () => {
        const s = await component.monitor.status.score(account.jid);
        return s.breakdown.length >= 4 ? s : undefined;
      },
      { timeoutMs: 5000, what: "score" },
    );
    expect(score.state).toBe("critical");
    expect(Object.fromEntries(score.breakdown.map((h) => [h.rule, h.weight]))).toEqual({
      disk_nearly_full: 4,
      disk_full: 4,
      load_high_per_cpu: 3,
      load_very_high_per_cpu: 3,
      check_critical: 2,
      check_warning: 1,
    });
    expect(score.score).toBe(17);
    const hosts = await component.monitor.status.listHosts();
    expect(hosts.find((h) => h.jid === account.jid)).toMatchObject({
      scoreState: "critical",
      checkCount: 3,
      failingCount: 2,
    });
    await waitFor(() => received(/busy01.*badness is CRITICAL/)[0], { timeoutMs: 3000 });
    const series = await component.monitor.status.metricSeries(account.jid, "disk_var//var");
    expect(series.map((p) => p.v)).toEqual([98]);
    const minutes = await component.monitor.status.metricSeries(account.jid, "load/load5", {
      resolution: "1m",
    });
    expect(minutes.map((p) => p.v)).toEqual([9.3]);
  });
});

describe("jabmon notify", () => {
  it("turns a Nagios notification from NAGIOS_* variables into an alert for the admin", async () => {
    const child = stack.spawnCli(["notify"], {
      ...process.env,
      JABMON_REDIS_URL: REDIS_URL,
      JABMON_REDIS_PREFIX: stack.prefix,
      NAGIOS_NOTIFICATIONTYPE: "PROBLEM",
      NAGIOS_HOSTNAME: "legacy-db",
      NAGIOS_SERVICEDESC: "PostgreSQL",
      NAGIOS_SERVICESTATE: "CRITICAL",
      NAGIOS_SERVICEOUTPUT: "connection refused",
    });
    const code = await new Promise((r) => child.on("exit", r));
    expect(code).toBe(0);
    expect(child.output()).toMatch(/queued alert [0-9a-f-]{36}/);
    const message = await waitFor(() => received(/legacy-db/)[0], { timeoutMs: 3000 });
    expect(message.body).toMatch(
      /^NAGIOS: legacy-db PostgreSQL is CRITICAL: connection refused \[#\d+\]$/,
    );
  });

  it("accepts the macros as options and names what is missing", async () => {
    const missing = stack.spawnCli(["notify", "--state", "DOWN"], {
      ...process.env,
      JABMON_REDIS_PREFIX: stack.prefix,
      NAGIOS_HOSTNAME: "",
    });
    expect(await new Promise((r) => missing.on("exit", r))).toBe(1);
    expect(missing.output()).toContain("jabmon: no host: pass --host or set NAGIOS_HOSTNAME");
    const ok = stack.spawnCli(
      [
        "notify",
        "--host",
        "legacy-web",
        "--state",
        "DOWN",
        "--output",
        "PING CRITICAL",
        "--prefix",
        stack.prefix,
      ],
      { ...process.env, JABMON_REDIS_URL: REDIS_URL },
    );
    expect(await new Promise((r) => ok.on("exit", r))).toBe(0);
    await waitFor(() => received(/NAGIOS: legacy-web is DOWN: PING CRITICAL/)[0], {
      timeoutMs: 3000,
    });
  });
});
