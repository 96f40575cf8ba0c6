import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Router } from "../../src/component/index.js";
import { silentLogger } from "../../src/log/index.js";
import {
  type AgentsBackend,
  type AlertsBackend,
  type DowntimeStoreLike,
  FAULTS,
  hostsBackend,
  parseDuration,
  registerComponentMethods,
  registerDowntimeMethods,
  rpcService,
} from "../../src/rpc/index.js";
import type { HostStore } from "../../src/store/index.js";

const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "rpc.md"), "utf8");

/** The component's methods (modules.* aside: src/modules registers them on a running service). */
function componentService() {
  const service = rpcService({
    router: new Router(silentLogger()),
    log: silentLogger(),
    access: { admins: [], viewers: [] },
    maxCallBytes: 1000,
  });
  registerComponentMethods(service, {
    ...hostsBackend({} as HostStore),
    ...({} as AlertsBackend),
    ...({} as AgentsBackend),
  } as never);
  registerDowntimeMethods(service, {} as DowntimeStoreLike, parseDuration);
  return service;
}

describe("docs/rpc.md", () => {
  it("documents every fault code with its name", () => {
    for (const [name, code] of Object.entries(FAULTS)) {
      expect(doc).toMatch(new RegExp(`\\| ${code} \\| \`${name}\` \\|`));
    }
  });

  it("documents every component method with its access", () => {
    const service = componentService();
    for (const name of service.methods()) {
      const spec = service.describe(name);
      expect(doc).toContain(`| \`${name}\` | ${spec?.access} |`);
    }
  });

  it("documents every parameter of every component method, in order, or none", () => {
    const service = componentService();
    for (const name of service.methods()) {
      const spec = service.describe(name);
      const row = doc.split("\n").find((line) => line.startsWith(`| \`${name}\` | `));
      const cell = row?.split(" | ")[2] ?? "";
      const params = spec?.params.map((p) => p.name) ?? [];
      if (params.length === 0) expect(cell, name).toBe("none");
      // Each parameter by name in backticks, in the order of the call.
      const at = params.map((p) => cell.indexOf(`\`${p}\``));
      expect(
        at.every((i) => i >= 0),
        `${name}: ${params.join(", ")} in "${cell}"`,
      ).toBe(true);
      expect(
        [...at].sort((a, b) => a - b),
        name,
      ).toEqual(at);
    }
  });
});
