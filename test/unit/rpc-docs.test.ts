import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Router } from "../../src/component/index.js";
import { silentLogger } from "../../src/log/index.js";
import {
  type AgentsBackend,
  type AlertsBackend,
  FAULTS,
  hostsBackend,
  registerComponentMethods,
  rpcService,
} from "../../src/rpc/index.js";
import type { HostStore } from "../../src/store/index.js";

const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "rpc.md"), "utf8");

describe("docs/rpc.md", () => {
  it("documents every fault code with its name", () => {
    for (const [name, code] of Object.entries(FAULTS)) {
      expect(doc).toMatch(new RegExp(`\\| ${code} \\| \`${name}\` \\|`));
    }
  });

  it("documents every component method with its access", () => {
    const service = rpcService({
      router: new Router(silentLogger()),
      log: silentLogger(),
      access: { admins: [], viewers: [] },
      maxCallBytes: 1000,
    });
    const agents = {} as AgentsBackend;
    registerComponentMethods(service, {
      ...hostsBackend({} as HostStore),
      ...({} as AlertsBackend),
      ...agents,
    } as never);
    for (const name of service.methods()) {
      const spec = service.describe(name);
      expect(doc).toContain(`| \`${name}\` | ${spec?.access} |`);
    }
  });
});
