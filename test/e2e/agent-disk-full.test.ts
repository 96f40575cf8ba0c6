/**
 * An agent whose spool's file system fills up keeps running, refuses what it
 * cannot spool, says so in its presence, and carries on once there is room.
 * The spool lives on a real 1 MiB tmpfs (mounting needs root, as the rest of
 * the test stack does).
 */
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { socketUp } from "../helpers/agent-socket.js";
import { useStack, waitForHost } from "../helpers/stack.js";

const stack = useStack("agent-disk-full");
let component: RunningComponent;
let mountPoint: string | undefined;

beforeAll(async () => {
  component = await stack.startComponent();
}, 60_000);
afterAll(async () => {
  // Lazily, first: the agent still has its spool open there until cleanup kills it.
  if (mountPoint) spawnSync("umount", ["-l", mountPoint]);
});

/** One request on the agent's socket; its JSON answer. */
async function ask(path: string, request: object): Promise<{ ok: boolean; error?: string }> {
  const s = connect(path);
  await once(s, "connect");
  s.write(`${JSON.stringify(request)}\n`);
  let reply = "";
  for await (const chunk of s) {
    reply += chunk.toString();
    if (reply.includes("\n")) break;
  }
  s.destroy();
  return JSON.parse(reply) as { ok: boolean; error?: string };
}

function fill(file: string) {
  const fd = openSync(file, "a");
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
}

describe("an agent on a full disk", () => {
  it("keeps running, refuses results it cannot spool, reports it in its presence, and recovers", async () => {
    const account = await stack.account("full-disk");
    const dir = stack.agentDir(account);
    mountPoint = join(dir, "disk");
    mkdirSync(mountPoint, { recursive: true });
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
    expect(mounted.status, `mount -t tmpfs (needs root): ${mounted.stderr}`).toBe(0);
    const config = join(dir, "agent.yml");
    writeFileSync(config, "checks: []\ninterval: 1\nxmpp: { reconnectMaxDelayMs: 1000 }\n");
    const env = stack.agentEnv(account, { JABMON_AGENT_SPOOL_DIR: join(mountPoint, "spool") });
    const agent = stack.spawnCli(["agent", "-c", config], env);
    const socket = env.JABMON_AGENT_SOCKET as string;
    await socketUp(socket);
    const url = component.httpUrl as string;
    await waitForHost(url, account.jid, (h) => h.online === true, 30_000);

    fill(join(mountPoint, "filler"));
    // tmpfs may still have room in the spool file's last page: a few results fit, then none.
    let refused = await ask(socket, { op: "send", text: "x".repeat(4000) });
    for (let i = 0; i < 10 && refused.ok; i++)
      refused = await ask(socket, { op: "send", text: "x".repeat(4000) });
    expect(refused).toEqual({ ok: false, error: "internal error: the result was not spooled" });
    await waitForHost(
      url,
      account.jid,
      (h) => h.state === "critical" && String(h.status).includes("cannot write (ENOSPC)"),
      30_000,
    );
    expect(agent.exitCode).toBeNull();

    rmSync(join(mountPoint, "filler"));
    expect(await ask(socket, { op: "send", text: "after the disk was freed" })).toMatchObject({
      ok: true,
    });
    await waitForHost(
      url,
      account.jid,
      (h) => h.online === true && !String(h.status).includes("cannot write"),
      30_000,
    );
    expect(agent.exitCode).toBeNull();
  }, 120_000);
});
