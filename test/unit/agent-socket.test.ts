/**
 * The agent's socket for shell scripts is never connectable by others, not
 * even for a moment: it is created owner-only and widened to `socket.mode`
 * (group first) only afterwards.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { listenPrivately, startSocketServer } from "../../src/agent/socket.js";
import { silentLogger } from "../../src/log/index.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "jabmon-socket-"));
  dirs.push(d);
  return d;
};

describe("the agent socket", () => {
  it("is owner-only the moment it exists, even under umask 000, and leaves the umask as it was", async () => {
    const path = join(tempDir(), "agent.sock");
    const server = createServer();
    const before = process.umask(0);
    try {
      await listenPrivately(server, path);
      // Nothing ran between bind and here that could have changed the mode.
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(process.umask()).toBe(0);
    } finally {
      process.umask(before);
      await new Promise((r) => server.close(r));
    }
  });

  it("ends with the configured mode", async () => {
    const path = join(tempDir(), "agent.sock");
    const socket = await startSocketServer({
      path,
      mode: 0o660,
      log: silentLogger(),
      accept: () => 1,
    });
    try {
      expect(statSync(path).mode & 0o777).toBe(0o660);
    } finally {
      await socket.close();
    }
  });
});
