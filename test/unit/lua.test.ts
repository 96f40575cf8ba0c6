import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { MARK_STALE } from "../../src/monitor/alerting/freshness.js";
import * as monitorScripts from "../../src/monitor/scripts.js";
import { AGENT_SEQ_REORDER_SPAN } from "../../src/protocol/index.js";
import * as pubsubScripts from "../../src/pubsub/scripts.js";
import { type LuaScript, luaScript } from "../../src/store/index.js";
import * as hostScripts from "../../src/store/scripts.js";

const dir = mkdtempSync(join(tmpdir(), "jabmon-lua-"));
mkdirSync(join(dir, "lua", "includes"), { recursive: true });
writeFileSync(
  join(dir, "lua", "includes", "twice.lua"),
  "local function twice(x) return 2 * x end\n",
);
writeFileSync(
  join(dir, "lua", "double-1.lua"),
  `-- header\n--- @include "includes/twice"\nreturn twice(\${LIMIT})\n`,
);
writeFileSync(join(dir, "lua", "anyKeys.lua"), "return #KEYS\n");
const moduleUrl = pathToFileURL(join(dir, "owner.js")).href;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("luaScript", () => {
  it("inlines includes and the module's constants, and reads the key count from the name", () => {
    const script = luaScript(moduleUrl, "double-1", { LIMIT: 21 });
    expect(script.numberOfKeys).toBe(1);
    expect(script.lua).toBe(
      "-- header\nlocal function twice(x) return 2 * x end\nreturn twice(21)\n",
    );
  });

  it("leaves the key count to the caller for a name without one", () => {
    expect(luaScript(moduleUrl, "anyKeys").numberOfKeys).toBeUndefined();
  });

  it("refuses a constant the module does not give", () => {
    expect(() => luaScript(moduleUrl, "double-1").lua).toThrow(/no value for \$\{LIMIT\}/);
  });

  it("names the missing file and the build step that copies it", () => {
    expect(() => luaScript(moduleUrl, "absent-2").lua).toThrow(/absent-2\.lua.*npm run build/s);
  });

  it("resolves every script of the pubsub service, the host records and the monitor", () => {
    const all = [
      ...Object.values(pubsubScripts),
      ...Object.values(hostScripts),
      ...Object.values(monitorScripts),
    ] as LuaScript[];
    expect(all.length).toBeGreaterThan(25);
    for (const script of all) {
      expect(script.lua, script.file.pathname).not.toMatch(/@include|\$\{/);
      expect(script.lua, script.file.pathname).toMatch(/redis\.call/);
    }
    expect(pubsubScripts.PUBLISH_ITEM.lua).toContain(
      `local REORDER_SPAN = ${AGENT_SEQ_REORDER_SPAN}\n`,
    );
  });

  it("gives a result's commit and the stale-check sweep one host tally (a shared include)", () => {
    const tally = "local function hostTally(checks, host, channel, jid)";
    expect(monitorScripts.COMMIT_ENTRIES.lua).toContain(tally);
    expect(MARK_STALE.lua).toContain(tally);
    expect(MARK_STALE.lua).toMatch(/hostTally\(KEYS\[3\], KEYS\[4\], KEYS\[6\], ARGV\[4\]\)/);
    expect(MARK_STALE.numberOfKeys).toBe(6);
  });
});
