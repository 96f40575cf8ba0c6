import { describe, expect, it } from "vitest";
import { parseStatusPresence, statusPresence } from "../../src/protocol/index.js";
import { el } from "../../src/xmpp/index.js";

const presence = (...children: Parameters<typeof el>[2][]) =>
  el("presence", { from: "a@localhost/x" }, ...children);

describe("status presence codec", () => {
  it("round-trips a status through the presence element", () => {
    const status = {
      host: "web01",
      version: "0.1.0",
      state: "critical" as const,
      summary: "2 checks failing",
      checks: 5,
      failing: 2,
      groups: ["web", "eu-west"],
      modules: ["db-basics@3", "web-basics@7"],
    };
    const parsed = parseStatusPresence(statusPresence(status, "monitor.localhost"));
    expect(parsed.problems).toEqual([]);
    expect(parsed.status).toEqual(status);
  });

  it("reads absent groups and modules as none, and drops malformed module entries", () => {
    const bare = parseStatusPresence(presence(el("x", { xmlns: "urn:jabmon:0", host: "web01" })));
    expect(bare.status).toMatchObject({ groups: [], modules: [] });
    const x = el("x", { xmlns: "urn:jabmon:0", modules: "web-basics@7 Bad@x db@2", groups: "web" });
    const parsed = parseStatusPresence(presence(x));
    expect(parsed.status.modules).toEqual(["web-basics@7", "db@2"]);
    expect(parsed.problems).toEqual(["modules: malformed entries dropped"]);
  });

  it("maps <show> to state when there is no machine payload", () => {
    expect(parseStatusPresence(presence(el("show", {}, "dnd"))).status.state).toBe("critical");
    expect(parseStatusPresence(presence(el("show", {}, "away"))).status.state).toBe("warning");
    expect(parseStatusPresence(presence()).status.state).toBe("ok");
  });

  it("keeps the valid fields and reports each invalid one", () => {
    const x = el("x", {
      xmlns: "urn:jabmon:0",
      host: "not a host!",
      state: "melting",
      version: "2.0",
      failing: "-1",
      checks: "3",
    });
    const { status, problems } = parseStatusPresence(presence(el("show", {}, "away"), x));
    expect(status).toMatchObject({ version: "2.0", checks: 3, state: "warning" });
    expect(status.host).toBeUndefined();
    expect(status.failing).toBeUndefined();
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/host:.*\n?.*state:.*\n?.*failing:/s);
  });

  it("ignores an oversized payload whole but keeps show and status", () => {
    const x = el("x", { xmlns: "urn:jabmon:0", host: "ok-host" }, "z".repeat(5000));
    const { status, problems } = parseStatusPresence(presence(el("status", {}, "fine"), x), 4096);
    expect(status).toEqual({ state: "ok", summary: "fine" });
    expect(problems[0]).toMatch(/exceeds the 4096-byte limit/);
  });

  it("strips control characters and truncates a long status", () => {
    const { status, problems } = parseStatusPresence(
      presence(el("status", {}, `a\u0007b${"c".repeat(2000)}`)),
    );
    expect(status.summary?.startsWith("abc")).toBe(true);
    expect(status.summary).toHaveLength(1024);
    expect(problems[0]).toMatch(/truncated/);
  });
});
