import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, TestStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

let stack: TestStack;

beforeAll(async () => {
  // ejabberd is configured but not running: the first tests check how jabmon copes.
  stack = await TestStack.start("cli", { started: false });
});
afterAll(async () => {
  await stack?.cleanup();
});

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

  it("retries with growing delays while ejabberd is unreachable, then connects once it is up", async () => {
    const component = stack.spawnCli(["component"], stack.componentEnv());
    const account = { user: "early", jid: "early@localhost", password: "early-pw" };
    const agent = stack.spawnAgent(account, { JABMON_LOG_LEVEL: "info" });
    const delays = async () =>
      logLines(component.output())
        .filter((l) => l.msg === "reconnecting after delay")
        .map((l) => Number(l.delayMs));
    // Backoff: about 0.5 s, 1 s, 2 s... never a busy loop.
    const seen = await waitFor(async () => ((await delays()).length >= 3 ? delays() : undefined), {
      timeoutMs: 15_000,
    });
    expect(seen.length).toBeLessThan(8);
    expect(seen[2]).toBeGreaterThan(seen[0] as number);
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
      [CLI, "account", "add", "newbie", "s3cret", "--service", stack.ejabberd.c2sService],
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
      [CLI, "account", "add", "newbie", "x", "--service", stack.ejabberd.c2sService],
      {
        encoding: "utf8",
      },
    );
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("conflict");
  });
});
