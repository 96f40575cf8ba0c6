/**
 * The component's start-up report of what a Redis acknowledgement is worth
 * (issue 13): private redis-servers with each persistence setting, one with
 * CONFIG disabled as managed Redis often has.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import {
  readRedisPersistence,
  reportRedisPersistence,
  startComponent,
} from "../../src/server/index.js";
import { freePort } from "../../src/stack/index.js";
import { createRedis, type Redis } from "../../src/store/index.js";
import { TestStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const servers: Array<{ child: ChildProcess; dir: string; redis: Redis }> = [];

async function privateRedis(args: string[]): Promise<Redis> {
  const dir = await mkdtemp(join(tmpdir(), "jabmon-redis-"));
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, ...args],
    { stdio: "ignore" },
  );
  const redis = createRedis(`redis://127.0.0.1:${port}`, pino({ level: "silent" }));
  servers.push({ child, dir, redis });
  await waitFor(() => redis.ping().then((r) => r === "PONG"), { timeoutMs: 10_000 });
  return redis;
}

afterAll(async () => {
  for (const { child, dir, redis } of servers) {
    redis.disconnect();
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
});

/** The lines reportRedisPersistence logs, as objects. */
async function report(redis: Redis): Promise<Array<{ level: number; msg: string }>> {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  await reportRedisPersistence(redis, log);
  return lines;
}
const WARN = 40;

describe("the Redis persistence report at component start-up", () => {
  it("warns that a Redis without persistence loses every acknowledged result on restart", async () => {
    const redis = await privateRedis(["--save", "", "--appendonly", "no"]);
    expect(await readRedisPersistence(redis)).toEqual({
      aof: false,
      appendfsync: "everysec",
      rdb: false,
      source: "config",
    });
    const [line] = await report(redis);
    expect(line?.level).toBe(WARN);
    expect(line?.msg).toMatch(/no persistence .*loses every acknowledged result/);
  });

  it("warns that RDB snapshots alone lose what came after the last snapshot", async () => {
    const redis = await privateRedis(["--save", "900 1", "--appendonly", "no"]);
    const [line] = await report(redis);
    expect(line?.level).toBe(WARN);
    expect(line?.msg).toMatch(/only RDB snapshots/);
  });

  it("does not warn with AOF and appendfsync everysec (the demo's setting) or always", async () => {
    for (const fsync of ["everysec", "always"]) {
      const redis = await privateRedis([
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        fsync,
      ]);
      expect((await readRedisPersistence(redis)).appendfsync).toBe(fsync);
      const lines = await report(redis);
      expect(lines.map((l) => l.level)).toEqual([30]);
      expect(lines[0]?.msg).toMatch(/Redis AOF/);
    }
  });

  it("falls back to INFO when CONFIG is disabled, and still warns without AOF", async () => {
    const withAof = await privateRedis(["--appendonly", "yes", "--rename-command", "CONFIG", ""]);
    await expect(withAof.call("CONFIG", "GET", "appendonly")).rejects.toThrow();
    expect(await readRedisPersistence(withAof)).toEqual({ aof: true, source: "info" });
    expect((await report(withAof)).map((l) => l.level)).toEqual([30]);

    const without = await privateRedis(["--save", "", "--rename-command", "CONFIG", ""]);
    expect(await readRedisPersistence(without)).toEqual({ aof: false, source: "info" });
    const [line] = await report(without);
    expect(line?.level).toBe(WARN);
    expect(line?.msg).toMatch(/no persistence \(no AOF\)/);
  });

  it("is logged by a starting component given a Redis without persistence", async () => {
    const redis = await privateRedis(["--save", "", "--appendonly", "no"]);
    const url = `redis://127.0.0.1:${redis.options.port}`;
    const stack = await TestStack.start("persist");
    const lines: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const component = await startComponent(
      stack.componentConfig({ redis: { url, prefix: stack.prefix } }),
      log,
    );
    try {
      const warning = await waitFor(() => lines.find((l) => /no persistence/.test(l.msg)), {
        timeoutMs: 10_000,
      });
      expect(warning.level).toBe(WARN);
    } finally {
      await component.stop();
      await stack.cleanup();
    }
  });
});
