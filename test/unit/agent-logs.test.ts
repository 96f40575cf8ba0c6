import { appendFile, mkdtemp, rename, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EventItem } from "../../src/agent/items.js";
import type { LogProblem } from "../../src/agent/logs.js";
import { watchLog } from "../../src/agent/logs.js";
import { silentLogger } from "../../src/log/index.js";
import { sleep, waitFor } from "../helpers/wait.js";

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

async function watch(file: string, maxPerMinute = 100, windowMs = 60_000) {
  const events: EventItem[] = [];
  const problems: LogProblem[] = [];
  const w = watchLog(
    { path: file, match: ["ERROR"], severity: "warning", maxPerMinute },
    {
      log: silentLogger(),
      onEvent: (e) => events.push(e),
      onProblem: (p) => problems.push(p),
      pollMs: 100,
      retryMs: 200,
      windowMs,
    },
  );
  cleanup.push(() => w.stop());
  await sleep(300);
  return { events, problems };
}

async function tempFile(content = "") {
  const dir = await mkdtemp(join(tmpdir(), "jabmon-logs-"));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "app.log");
  await writeFile(file, content);
  return file;
}

const texts = (events: EventItem[]) => events.map((e) => e.text);

describe("a log watch", () => {
  it("follows the file through copytruncate and rename rotation without losing a line", async () => {
    const file = await tempFile("ERROR old\n");
    const { events } = await watch(file);
    await appendFile(file, "ERROR one\n");
    await waitFor(() => events.length === 1);
    await truncate(file, 0);
    await sleep(250);
    await appendFile(file, "ERROR two\n");
    await waitFor(() => events.length === 2);
    await appendFile(file, "ERROR three, last line before rotation\n");
    await rename(file, `${file}.1`);
    await writeFile(file, "ERROR four\n");
    await waitFor(() => events.length === 4, { timeoutMs: 5000 });
    expect(texts(events)).toEqual([
      "ERROR one",
      "ERROR two",
      "ERROR three, last line before rotation",
      "ERROR four",
    ]);
  });

  it("counts what the rate limit suppressed and reports it", async () => {
    const file = await tempFile();
    const { events } = await watch(file, 2, 1500);
    await appendFile(
      file,
      `${["ERROR 1", "ERROR 2", "ERROR 3", "ERROR 4", "ERROR 5"].join("\n")}\n`,
    );
    await waitFor(() => events.length === 3, { timeoutMs: 5000 });
    expect(texts(events).slice(0, 2)).toEqual(["ERROR 1", "ERROR 2"]);
    expect(events[2]).toMatchObject({
      suppressed: 3,
      text: expect.stringContaining("3 more matching lines suppressed"),
    });
    await appendFile(file, "ERROR 6\n");
    await waitFor(() => events.length === 4);
    expect(events[3]).toMatchObject({ text: "ERROR 6" });
    expect(events[3]?.suppressed).toBeUndefined();
  });

  it("reports a missing file once, not in a loop, then reads it from its start when it appears", async () => {
    const file = join(await tempFile(), "..", "later.log");
    const { events, problems } = await watch(file);
    await sleep(1500);
    expect(problems).toEqual([{ path: file, error: "ENOENT" }]);
    await writeFile(file, "ERROR first line\n");
    await waitFor(() => events.length === 1, { timeoutMs: 3000 });
    expect(problems).toEqual([
      { path: file, error: "ENOENT" },
      { path: file, error: undefined },
    ]);
  });
});
