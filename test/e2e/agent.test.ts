import { execFile } from "node:child_process";
import { appendFile, mkdir, rename, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Element } from "../../src/xmpp/index.js";
import { type PublishSink, startPublishSink } from "../helpers/sink.js";
import { type Account, CLI, type TestStack, useStack } from "../helpers/stack.js";
import { sleep } from "../helpers/wait.js";

const run = promisify(execFile);
const PLUGINS = "/usr/lib/nagios/plugins";

const stack = useStack("agent");
let sink: PublishSink;
let account: Account;
let dir: string;
let env: NodeJS.ProcessEnv;
let agent: ReturnType<TestStack["spawnCli"]>;

const find = (items: Element[], name: string, pred: (e: Element) => boolean = () => true) =>
  items.find((e) => e.name === name && pred(e));

beforeAll(async () => {
  sink = await startPublishSink(stack);
  account = await stack.account("host01");
  dir = stack.agentDir(account);
  await mkdir(join(dir, "etc"), { recursive: true });
  await writeFile(join(dir, "app.log"), "old line ERROR before start\n");
  await writeFile(join(dir, "etc", "app.conf"), "a=1\n");
  const config = join(dir, "agent.yml");
  await writeFile(
    config,
    [
      "interval: 60",
      "checks:",
      "  - { name: nagios_load, type: nagios, interval: 1, command: " +
        `${PLUGINS}/check_load, args: ["-w", "50,40,30", "-c", "90,80,70"], labels: { team: web } }`,
      "  - { name: memory, type: memory, interval: 60, warn: 99, crit: 100 }",
      "logs:",
      `  - { path: ${join(dir, "app.log")}, match: ["ERROR", "panic: .*"], severity: critical, maxPerMinute: 3 }`,
      `  - { path: ${join(dir, "missing.log")}, match: "x" }`,
      "files:",
      `  - ${join(dir, "etc")}`,
      "publish: { timeoutMs: 5000 }",
      "xmpp: { reconnectMaxDelayMs: 1000 }",
    ].join("\n"),
  );
  env = stack.agentEnv(account);
  agent = stack.spawnCli(["agent", "-c", config], env);
  // The first result proves the agent is online and publishing.
  await sink.waitForItems(account.jid, (items) => items.length > 0, 20_000, "first result");
});
afterAll(async () => {
  await sink?.stop();
});

describe("the agent publishes", () => {
  it("a Nagios plugin's result with its parsed perfdata and labels", async () => {
    const items = await sink.waitForItems(
      account.jid,
      (items) => !!find(items, "check", (e) => e.attrs.name === "nagios_load"),
      10_000,
    );
    const check = find(items, "check", (e) => e.attrs.name === "nagios_load") as Element;
    expect(check.attrs).toMatchObject({ xmlns: "urn:jabmon:0", state: "ok" });
    expect(Number(check.attrs.seq)).toBeGreaterThan(0);
    expect(Date.parse(check.attrs.time)).toBeGreaterThan(Date.now() - 60_000);
    expect(check.getChildText("output")).toMatch(/load average/i);
    const metrics = check.getChildren("metric").map((m) => m.attrs);
    expect(metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "load1", warn: "50.000", crit: "90.000", min: "0" }),
      ]),
    );
    expect(check.getChild("label")?.attrs).toEqual({ name: "team", value: "web" });
  });

  it("sequence numbers that increase by one with every result", async () => {
    const items = await sink.waitForItems(account.jid, (items) => items.length >= 3, 10_000);
    const seqs = items.map((e) => Number(e.attrs.seq));
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] as number) + i));
  });

  it("a matching log line as an event, across rotation, rate-limited (the suppressed count is in test/unit/agent-logs.test.ts)", async () => {
    const log = join(dir, "app.log");
    await appendFile(log, "all fine\nERROR disk on fire\n");
    const first = await sink.waitForItems(
      account.jid,
      (items) => !!find(items, "event", (e) => e.getChildText("text") === "ERROR disk on fire"),
      10_000,
    );
    const event = find(
      first,
      "event",
      (e) => e.getChildText("text") === "ERROR disk on fire",
    ) as Element;
    expect(event.attrs).toMatchObject({ type: "log", severity: "critical", path: log });
    expect(first.some((e) => e.getChildText("text")?.includes("before start"))).toBe(false);

    // Rotation: rename and re-create; the new file is read from its start.
    await rename(log, `${log}.1`);
    await writeFile(log, "panic: after rotation\n");
    await sink.waitForItems(
      account.jid,
      (items) => !!find(items, "event", (e) => e.getChildText("text") === "panic: after rotation"),
      10_000,
    );
    // Two events used of three this minute: one more passes, the next five are counted.
    await appendFile(
      log,
      `${Array.from({ length: 6 }, (_, i) => `ERROR burst ${i}`).join("\n")}\n`,
    );
    await sleep(2000);
    const burst = (await sink.read(account.jid)).filter((e) =>
      e.getChildText("text")?.startsWith("ERROR burst"),
    );
    expect(burst.map((e) => e.getChildText("text"))).toEqual(["ERROR burst 0"]);
  });

  it("an unreadable log file as one check problem, not a loop", async () => {
    await sleep(1000);
    const problems = (await sink.read(account.jid)).filter(
      (e) => e.name === "check" && e.attrs.name === `log:${join(dir, "missing.log")}`.slice(0, 64),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]?.attrs.state).toBe("unknown");
    expect(problems[0]?.getChildText("output")).toContain("ENOENT");
  });

  it("an edit of a watched file as an event with the change and the new checksum", async () => {
    const file = join(dir, "etc", "app.conf");
    await writeFile(file, "a=2\n");
    const items = await sink.waitForItems(
      account.jid,
      (items) => !!find(items, "event", (e) => e.attrs.type === "file" && e.attrs.path === file),
      10_000,
    );
    const event = find(
      items,
      "event",
      (e) => e.attrs.type === "file" && e.attrs.path === file,
    ) as Element;
    expect(event.attrs).toMatchObject({
      change: "modified",
      checksum:
        "sha256:" +
        (await import("node:crypto")).createHash("sha256").update("a=2\n").digest("hex"),
    });
    await writeFile(join(dir, "etc", "new.conf"), "b\n");
    await sink.waitForItems(
      account.jid,
      (items) =>
        !!find(
          items,
          "event",
          (e) => e.attrs.change === "created" && e.attrs.path === join(dir, "etc", "new.conf"),
        ),
      10_000,
    );
  });

  it("a backup report with its size, sent by `jabmon report backup`", async () => {
    await run(
      process.execPath,
      [
        CLI,
        "report",
        "backup",
        "--job",
        "nightly",
        "--status",
        "ok",
        "--size",
        "123456",
        "--duration",
        "42",
      ],
      { env },
    );
    const items = await sink.waitForItems(
      account.jid,
      (items) => !!find(items, "backup", (e) => e.attrs.job === "nightly"),
      10_000,
    );
    expect(find(items, "backup", (e) => e.attrs.job === "nightly")?.attrs).toMatchObject({
      status: "ok",
      size_bytes: "123456",
      duration_s: "42",
    });
  });

  it("a backup run by `jabmon run-backup` with its status, duration and measured size", async () => {
    const target = join(dir, "backup.tar");
    await run(
      process.execPath,
      [
        CLI,
        "run-backup",
        "--job",
        "files",
        "--measure",
        target,
        "--",
        "/usr/bin/truncate",
        "-s",
        "4096",
        target,
      ],
      { env },
    );
    const items = await sink.waitForItems(
      account.jid,
      (items) => !!find(items, "backup", (e) => e.attrs.job === "files"),
      10_000,
    );
    expect(find(items, "backup", (e) => e.attrs.job === "files")?.attrs).toMatchObject({
      status: "ok",
      size_bytes: "4096",
    });

    const failed = await run(
      process.execPath,
      [CLI, "run-backup", "--job", "broken", "--", "/bin/false"],
      { env },
    ).catch((e) => e);
    expect(failed.code).toBe(1);
    const after = await sink.waitForItems(
      account.jid,
      (items) => !!find(items, "backup", (e) => e.attrs.job === "broken"),
      10_000,
    );
    const broken = find(after, "backup", (e) => e.attrs.job === "broken") as Element;
    expect(broken.attrs.status).toBe("failed");
    expect(broken.getChildText("message")).toContain("exited with 1");
  });

  it("events and passive check results sent by shell scripts through the socket", async () => {
    await run(process.execPath, [CLI, "send", "--severity", "critical", "backup failed"], { env });
    await run(
      process.execPath,
      [CLI, "check-result", "raid", "2", "RAID CRITICAL - md0 degraded|disks=1;;2;0;2"],
      { env },
    );
    await run(process.execPath, [CLI, "log", "--tag", "cron", "job done"], { env });
    const items = await sink.waitForItems(
      account.jid,
      (items) => !!find(items, "event", (e) => e.attrs.tag === "cron"),
      10_000,
    );
    expect(
      find(items, "event", (e) => e.getChildText("text") === "backup failed")?.attrs,
    ).toMatchObject({
      type: "message",
      severity: "critical",
    });
    const raid = find(items, "check", (e) => e.attrs.name === "raid") as Element;
    expect(raid.attrs).toMatchObject({ state: "critical", passive: "true" });
    expect(raid.getChildText("output")).toBe("RAID CRITICAL - md0 degraded");
    expect(raid.getChild("metric")?.attrs).toMatchObject({
      name: "disks",
      value: "1",
      crit: "2",
      min: "0",
      max: "2",
    });
  });

  it("answers garbage on the socket with an error and keeps working", async () => {
    const socketPath = env.JABMON_AGENT_SOCKET as string;
    const talk = (data: string) =>
      new Promise<string>((resolve, reject) => {
        const s = connect(socketPath);
        let reply = "";
        s.on("data", (d) => {
          reply += d.toString();
          if (reply.includes("\n")) {
            s.destroy();
            resolve(reply);
          }
        });
        s.on("error", reject);
        s.write(data);
      });
    expect(JSON.parse(await talk("\u0000\u00ff not json\n"))).toMatchObject({
      ok: false,
      error: "not a JSON object",
    });
    expect(JSON.parse(await talk('{"op":"backup","job":"x","status":"meh"}\n'))).toMatchObject({
      ok: false,
      error: expect.stringContaining("status"),
    });
    expect(JSON.parse(await talk(`${"x".repeat(70_000)}`))).toMatchObject({ ok: false });
    const refused = await run(process.execPath, [CLI, "send", "--severity", "loud", "hi"], {
      env,
    }).catch((e) => e);
    expect(refused.stderr).toContain("severity");
    const ok = JSON.parse(await talk('{"op":"send","text":"still alive"}\n'));
    expect(ok).toMatchObject({ ok: true, seq: expect.any(Number) });
    await sink.waitForItems(
      account.jid,
      (items) => !!find(items, "event", (e) => e.getChildText("text") === "still alive"),
      10_000,
    );
  });

  it("stops cleanly within seconds on SIGTERM, with its watchers and socket", async () => {
    const exited = new Promise<number | null>((resolve) =>
      agent.once("exit", (code) => resolve(code)),
    );
    agent.kill("SIGTERM");
    const code = await Promise.race([exited, sleep(8000).then(() => "hung")]);
    expect(code).toBe(0);
  });
});
