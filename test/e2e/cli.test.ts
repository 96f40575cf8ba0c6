import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

// ejabberd is configured but not running: the first tests check how jabmon copes.
const stack = useStack("cli", { started: false });

const logLines = (output: string) =>
  output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe("the jabmon command", () => {
  it("exits non-zero naming the key when the configuration is invalid", () => {
    const result = spawnSync(process.execPath, [CLI, "component"], {
      env: {
        PATH: process.env.PATH,
        JABMON_COMPONENT_PASSWORD: "x",
        JABMON_COMPONENT_SERVICE: "localhost",
      },
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      "xmpp.service: must look like xmpp://HOST:PORT (from JABMON_COMPONENT_SERVICE)",
    );
  });

  it("names the option and the roles when --role or JABMON_ROLE is not a role", () => {
    const run = (args: string[], env: Record<string, string>) =>
      spawnSync(process.execPath, [CLI, "component", ...args], {
        env: { PATH: process.env.PATH, ...env },
        encoding: "utf8",
      });
    const flag = run(["--role", "pubsub"], { JABMON_COMPONENT_PASSWORD: "x" });
    expect(flag.status).toBe(1);
    expect(flag.stderr).toContain(
      'role: must be one of all, xmpp, ingest, http (got "pubsub") (from --role)',
    );
    const env = run([], { JABMON_ROLE: "monitor" });
    expect(env.status).toBe(1);
    expect(env.stderr).toContain(
      'role: must be one of all, xmpp, ingest, http (got "monitor") (from JABMON_ROLE)',
    );
    // --role wins over the environment; a front needs the component secret.
    const front = run(["--role", "xmpp"], { JABMON_ROLE: "ingest" });
    expect(front.status).toBe(1);
    expect(front.stderr).toContain("xmpp.password: is required");
    expect(front.stderr).toContain("role xmpp connects to it");
  });

  it("retries with jittered backoff while ejabberd is unreachable, then connects once it is up", async () => {
    const component = stack.spawnCli(["component"], stack.componentEnv());
    const account = { user: "early", jid: "early@localhost", password: "early-pw" };
    const agent = stack.spawnAgent(account, { JABMON_LOG_LEVEL: "info" });
    const delays = async () =>
      logLines(component.output())
        .filter((l) => l.msg === "reconnecting after delay")
        .map((l) => Number(l.delayMs));
    // Full jitter under a doubling ceiling (the bounds are unit-tested in
    // test/unit/reconnect.test.ts): single delays may shrink, but never a busy loop.
    const seen = await waitFor(async () => ((await delays()).length >= 3 ? delays() : undefined), {
      timeoutMs: 15_000,
    });
    expect(seen.length).toBeLessThan(8);
    for (const delay of seen) expect(delay).toBeGreaterThanOrEqual(100);
    expect(component.exitCode).toBeNull();
    expect(agent.exitCode).toBeNull();
    expect(logLines(agent.output()).some((l) => l.msg === "connection attempt failed")).toBe(true);

    await stack.ejabberd.start();
    await stack.ejabberd.register(account.user, account.password);
    await waitFor(() => logLines(component.output()).some((l) => l.msg === "component online"), {
      timeoutMs: 40_000,
    });
    await waitFor(() => logLines(agent.output()).some((l) => l.msg === "online"), {
      timeoutMs: 40_000,
    });
  }, 90_000);

  it("creates an account that can then log in", async () => {
    const result = spawnSync(
      process.execPath,
      [
        CLI,
        "account",
        "add",
        "newbie",
        "s3cret",
        "--service",
        stack.ejabberd.c2sService,
        "--ca-file",
        stack.caFile as string,
      ],
      {
        encoding: "utf8",
      },
    );
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("created newbie@localhost");
    const client = await stack.client({
      user: "newbie",
      jid: "newbie@localhost",
      password: "s3cret",
    });
    expect(client.jid?.bare().toString()).toBe("newbie@localhost");

    const again = spawnSync(
      process.execPath,
      [
        CLI,
        "account",
        "add",
        "newbie",
        "x",
        "--service",
        stack.ejabberd.c2sService,
        "--ca-file",
        stack.caFile as string,
      ],
      {
        encoding: "utf8",
      },
    );
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("conflict");
  });

  it("warns at start that every account of the agent domains is an agent while monitor.agents is not set", async () => {
    // Up since the backoff test; started here when this test runs alone.
    await stack.ejabberd.ctl("status").catch(() => stack.ejabberd.start());
    const open = stack.spawnCli(["component"], stack.componentEnv({ JABMON_AGENTS: "" }));
    const listed = stack.spawnCli(
      ["component"],
      stack.componentEnv({ JABMON_AGENTS: "agent-*@localhost" }),
    );
    const onPurpose = stack.spawnCli(
      ["component"],
      stack.componentEnv({ JABMON_AGENTS: "*@localhost" }),
    );
    const children = [open, listed, onPurpose];
    // The warning comes before the link is up: once online, it was said or never will be.
    for (const child of children)
      await waitFor(() => logLines(child.output()).some((l) => l.msg === "component online"), {
        timeoutMs: 40_000,
      });
    const warnings = (output: string) =>
      logLines(output).filter((l) => l.level === 40 && String(l.msg).includes("monitor.agents"));
    const [warning, ...more] = warnings(open.output());
    expect(more).toEqual([]);
    expect(warning).toMatchObject({ agentDomains: ["localhost"] });
    expect(String(warning?.msg)).toMatch(
      /every account of localhost counts as an agent.*JABMON_AGENTS/,
    );
    expect(warnings(listed.output())).toEqual([]);
    expect(warnings(onPurpose.output())).toEqual([]);
    for (const child of children) child.kill();
  }, 90_000);

  describe("passwords never needed on the command line", () => {
    const secrets = mkdtempSync(join(tmpdir(), "jabmon-secrets-"));
    const secretFile = (name: string, text: string) => {
      const path = join(secrets, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    const addAccount = (args: string[], env: NodeJS.ProcessEnv = {}, input?: string) =>
      spawnSync(
        process.execPath,
        [
          CLI,
          "account",
          "add",
          ...args,
          "--service",
          stack.ejabberd.c2sService,
          "--ca-file",
          stack.caFile as string,
        ],
        { encoding: "utf8", env: { PATH: process.env.PATH, ...env }, input },
      );
    const logsIn = async (user: string, password: string) => {
      const client = await stack.client({ user, jid: `${user}@localhost`, password });
      expect(client.jid?.bare().toString()).toBe(`${user}@localhost`);
    };

    it("account add takes it from --password-file, standard input or JABMON_ACCOUNT_PASSWORD_FILE", async () => {
      const fromFile = addAccount(["byfile", "--password-file", secretFile("a", "pw-file\n")]);
      expect(fromFile.stderr).toBe("");
      await logsIn("byfile", "pw-file");
      const fromStdin = addAccount(["bystdin", "--password-file", "-"], {}, "pw-stdin\n");
      expect(fromStdin.stderr).toBe("");
      await logsIn("bystdin", "pw-stdin");
      const fromEnv = addAccount(["byenv"], {
        JABMON_ACCOUNT_PASSWORD_FILE: secretFile("b", "pw-env"),
      });
      expect(fromEnv.stderr).toBe("");
      await logsIn("byenv", "pw-env");
    });

    it("account add without any password says where to put one", () => {
      const result = addAccount(["nopassword"]);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain("--password-file");
    });

    it("the agent logs in with --password-file and JABMON_AGENT_PASSWORD_FILE", async () => {
      const account = await stack.account("pwfile-agent");
      const { JABMON_AGENT_PASSWORD: _, ...env } = stack.agentEnv(account, {
        JABMON_LOG_LEVEL: "info",
      });
      const file = secretFile("agent", `${account.password}\n`);
      const byFlag = stack.spawnCli(["agent", "--password-file", file], env);
      await waitFor(() => logLines(byFlag.output()).some((l) => l.msg === "online"), {
        timeoutMs: 40_000,
      });
      byFlag.kill("SIGTERM");
      await new Promise((r) => byFlag.once("exit", r));
      const byEnv = stack.spawnCli(["agent"], { ...env, JABMON_AGENT_PASSWORD_FILE: file });
      await waitFor(() => logLines(byEnv.output()).some((l) => l.msg === "online"), {
        timeoutMs: 40_000,
      });
    }, 90_000);
  });
});
