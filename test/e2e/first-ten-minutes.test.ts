/**
 * The newcomer path (issue 16), as README.md's "The first ten minutes" tells
 * it: `jabmon demo` in one terminal; `jabmon send`, `check-result` and
 * `report backup` from another reach the demo's agent without being told its
 * socket, and `npx jabmon` works from the clone; then a second host with a
 * failing Nagios plugin check, its alert in an XMPP client, and an
 * acknowledgement from the AdminBot.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Client, xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { demoSocketPath } from "../../src/shell/index.js";
import { askBot } from "../helpers/chat.js";
import { CLI, freePort } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");

let runtime: string;
let env: NodeJS.ProcessEnv;
let demo: ReturnType<typeof spawn>;
let output = "";
let url: string;
let admin: Client | undefined;
const children: Array<ReturnType<typeof spawn>> = [];

beforeAll(async () => {
  runtime = await mkdtemp(join(tmpdir(), "jabmon-xdg-"));
  const { JABMON_AGENT_SOCKET: _ignored, ...rest } = process.env;
  env = {
    ...rest,
    XDG_RUNTIME_DIR: runtime,
    JABMON_C2S_PORT: String(await freePort()),
    JABMON_COMPONENT_PORT: String(await freePort()),
    JABMON_HTTP_PORT: String(await freePort()),
    JABMON_XMPP_HTTP_PORT: String(await freePort()),
    // The demo's certificate, at the fixed path the demo prints (README step 1).
    JABMON_AGENT_CA_FILE: join(runtime, "jabmon-demo", "ca.pem"),
    JABMON_ADMINBOT_CA_FILE: join(runtime, "jabmon-demo", "ca.pem"),
    JABMON_DEMO_AGENT: "demo1",
    JABMON_ALERT_ADMINS: "admin@localhost",
    JABMON_RPC_ADMINS: "adminbot@localhost",
  };
  demo = spawn(process.execPath, [CLI, "demo"], { env, stdio: ["ignore", "pipe", "pipe"] });
  const collect = (d: Buffer) => {
    output += d.toString();
  };
  demo.stdout?.on("data", collect);
  demo.stderr?.on("data", collect);
  const match = await waitFor(() => output.match(/jabmon is up: open (http:\/\/[^ ]+)\//), {
    timeoutMs: 60_000,
    what: "the demo to start",
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n${output}`);
  });
  url = match[1] as string;
  await waitFor(
    async () =>
      ((await (await fetch(`${url}/api/hosts`)).json()) as Array<{ online: boolean }>).some(
        (h) => h.online,
      ),
    { timeoutMs: 30_000, what: "the demo's agent online" },
  );
}, 120_000);
afterAll(async () => {
  await admin?.stop().catch(() => {});
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  if (demo && demo.exitCode === null) {
    demo.kill("SIGINT");
    await new Promise((resolve) => demo.once("exit", resolve));
  }
  await rm(runtime, { recursive: true, force: true });
});

describe("jabmon demo", () => {
  it("puts its agent's socket at a fixed per-user path, in a private directory", async () => {
    const path = demoSocketPath(env);
    expect(path).toBe(join(runtime, "jabmon-demo", "agent.sock"));
    expect((await stat(path)).isSocket()).toBe(true);
    expect((await stat(join(runtime, "jabmon-demo"))).mode & 0o777).toBe(0o700);
    expect(output).toContain("npx jabmon send");
  });

  it("is reached by send, check-result and report backup without a socket path", async () => {
    await run(process.execPath, [CLI, "send", "--severity", "warning", "hello from a script"], {
      env,
    });
    await run(
      process.execPath,
      [CLI, "report", "backup", "--job", "nightly", "--status", "ok", "--size", "1234"],
      {
        env,
      },
    );
    // `npx jabmon` from the clone runs the package's own bin.
    await run(
      "npx",
      ["--no-install", "jabmon", "check-result", "webcheck", "2", "CRIT something"],
      {
        env,
        cwd: ROOT,
      },
    );
    // The demo's own load check may be failing on a busy machine: look for webcheck.
    const host = await waitFor(
      async () =>
        (
          (await (await fetch(`${url}/api/hosts?state=critical`)).json()) as Array<{
            jid: string;
            checks: number;
          }>
        )[0],
      { timeoutMs: 15_000, what: "the demo host critical" },
    );
    const checks = await waitFor(
      async () => {
        const d = (await (await fetch(`${url}/api/hosts/${host.jid}`)).json()) as {
          checks: Array<{ name: string; state: string }>;
        };
        return d.checks.find((c) => c.name === "webcheck" && c.state === "critical");
      },
      { timeoutMs: 15_000, what: "webcheck critical" },
    );
    expect(checks.name).toBe("webcheck");
    const detail = (await (await fetch(`${url}/api/hosts/${host.jid}`)).json()) as {
      events: Array<{ text: string }>;
      backups: Array<{ job: string }>;
    };
    expect(detail.events.map((e) => e.text)).toContain("hello from a script");
    expect(detail.backups.map((b) => b.job)).toContain("nightly");
  }, 60_000);

  it("adds a second host whose failing Nagios check shows on the page, alerts a person and is acknowledged from the AdminBot", async () => {
    const service = `xmpp://127.0.0.1:${env.JABMON_C2S_PORT}`;
    const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      run(process.execPath, [CLI, ...args], { env: { ...env, ...extra } });
    // Step 2: accounts.
    for (const [user, password] of [
      ["web02", "web02-secret-pw"],
      ["admin", "admin-secret-pw"],
      ["adminbot", "adminbot-secret-pw"],
    ] as const)
      expect((await cli(["account", "add", user, password, "--service", service])).stdout).toBe(
        `created ${user}@localhost\n`,
      );
    // Step 3: a person online in an XMPP client.
    admin = createClient({
      service,
      domain: "localhost",
      username: "admin",
      password: "admin-secret-pw",
      resource: "laptop",
      caFile: env.JABMON_AGENT_CA_FILE,
    });
    admin.on("error", () => {});
    const chats: string[] = [];
    admin.on("stanza", (stanza) => {
      const body = stanza.is("message") ? stanza.getChildText("body") : null;
      if (body) chats.push(body);
    });
    await admin.start();
    await admin.send(xml("presence"));
    // Step 4: the README's web02.yml, with its own spool.
    const config = join(runtime, "web02.yml");
    await writeFile(
      config,
      [
        "host: web02",
        "checks:",
        "  - { name: uptime, type: uptime }",
        "  - name: http",
        "    type: nagios",
        "    interval: 10",
        "    command: /usr/lib/nagios/plugins/check_tcp",
        '    args: ["-H", "127.0.0.1", "-p", "9"]',
        `spool: { dir: ${join(runtime, "web02-spool")} }`,
        "socket: { enabled: false }",
      ].join("\n"),
    );
    const agent = spawn(process.execPath, [CLI, "agent", "-c", config], {
      env: {
        ...env,
        JABMON_AGENT_SERVICE: service,
        JABMON_AGENT_JID: "web02@localhost",
        JABMON_AGENT_PASSWORD: "web02-secret-pw",
      },
      stdio: "ignore",
    });
    children.push(agent);
    // Step 5: critical on the page's API, explained by the plugin's check.
    const web02 = await waitFor(
      async () =>
        (
          (await (await fetch(`${url}/api/hosts?state=critical`)).json()) as Array<{
            jid: string;
            summary: string;
          }>
        ).find((h) => h.jid === "web02@localhost"),
      { timeoutMs: 30_000, what: "web02 critical" },
    );
    expect(web02.summary).toBe("1 of 2 checks critical: http");
    // Step 6: the alert in the person's client.
    const alert = await waitFor(
      () =>
        chats.find((c) => c.startsWith("PROBLEM: web02 (web02@localhost) check http is CRITICAL")),
      { timeoutMs: 20_000, what: "the alert as a chat message" },
    );
    expect(alert).toMatch(/refused/i);
    // Step 7: the AdminBot.
    const bot = spawn(process.execPath, [CLI, "adminbot"], {
      env: {
        ...env,
        JABMON_LOG_LEVEL: "info",
        JABMON_ADMINBOT_SERVICE: service,
        JABMON_ADMINBOT_JID: "adminbot@localhost",
        JABMON_ADMINBOT_PASSWORD: "adminbot-secret-pw",
        JABMON_ADMINBOT_ADMINS: "admin@localhost",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(bot);
    let botOutput = "";
    bot.stdout?.on("data", (d: Buffer) => {
      botOutput += d.toString();
    });
    await waitFor(() => botOutput.includes("AdminBot online"), {
      timeoutMs: 20_000,
      what: "the AdminBot online",
    });
    const ask = (text: string) => askBot(admin as Client, "adminbot@localhost", text);
    expect(await ask("what's critical?")).toContain("CRIT web02: 1 of 2 checks critical: http");
    const alerts = await ask("alerts");
    const line = alerts.split("\n").find((l) => l.includes("web02") && l.includes("http"));
    const id = line?.match(/^#(\d+)/)?.[1];
    expect(id, alerts).toBeDefined();
    expect(line).not.toContain("acked");
    expect(await ask(`ack ${id} looking into it`)).toMatch(
      new RegExp(`^Acknowledged alert #${id} .*no more notifications`),
    );
    // Not only the bot's echo: the monitor's open problem is acknowledged now, by the bot
    // (the RPC caller) on behalf of the person who asked, with their comment.
    const after = await ask("alerts");
    const acked = after.split("\n").find((l) => l.startsWith(`#${id} `));
    expect(acked, after).toContain(
      "[acked by adminbot@localhost: admin@localhost: looking into it]",
    );
  }, 120_000);
});
