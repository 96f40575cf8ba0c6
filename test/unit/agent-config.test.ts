import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAgentConfig } from "../../src/agent/index.js";

const file = (text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), "jabmon-cfg-")), "agent.yml");
  writeFileSync(path, text);
  return path;
};
const base = "xmpp: { jid: web01@localhost, password: s3cret }\n";

describe("the agent's configuration", () => {
  it("fills defaults and coerces environment values", () => {
    const config = loadAgentConfig(file(base), {
      JABMON_AGENT_INTERVAL: "30",
      JABMON_AGENT_STREAM_MANAGEMENT: "true",
    });
    expect(config).toMatchObject({
      interval: 30,
      xmpp: {
        service: ["xmpp://127.0.0.1:5222"],
        component: "monitor.localhost",
        streamManagement: true,
      },
      spool: { maxBytes: 32 << 20, fsync: "always" },
      socket: { path: "/run/jabmon/agent.sock", mode: 0o660 },
      publish: { window: 10 },
      logs: [],
    });
    expect(config.checks).toBeUndefined();
  });

  it("reads check definitions with interval, timeout, labels and thresholds", () => {
    const config = loadAgentConfig(
      file(
        `${base}checks:\n  - { name: root, type: disk, mounts: [/], interval: 5, timeout: 2, warn: 90, crit: 95, labels: { team: ops } }\n  - { name: plug, type: nagios, command: /usr/lib/nagios/plugins/check_load }\nfiles: [/etc/hosts]\n`,
      ),
      {},
    );
    expect(config.checks?.[0]).toEqual({
      name: "root",
      type: "disk",
      mounts: ["/"],
      interval: 5,
      timeout: 2,
      warn: 90,
      crit: 95,
      labels: { team: "ops" },
    });
    expect(config.checks?.[1]).toMatchObject({ type: "nagios", args: [] });
    expect(config.files).toEqual([{ path: "/etc/hosts", recursive: false }]);
  });

  it.each([
    ["xmpp: { password: x }", "xmpp.jid: is required"],
    [
      `${base}checks: [{ name: p, type: tcp, port: 70000 }]`,
      "checks.0.port: must be a port number",
    ],
    [
      `${base}checks: [{ name: p, type: nagios, command: check_load }]`,
      "checks.0.command: must be an absolute path (no shell is used)",
    ],
    [`${base}checks: [{ name: p, type: frobnicate }]`, "checks.0.type: must have a type"],
    [
      `${base}logs: [{ path: /var/log/syslog, match: "(" }]`,
      "logs.0.match: must be valid regular expressions",
    ],
    [`${base}socket: { mode: 999 }`, "socket.mode: must be an octal mode such as 0660"],
  ])("rejects %s naming the key and the reason", (text, message) => {
    const path = file(text);
    expect(() => loadAgentConfig(path, {})).toThrow(message);
    expect(() => loadAgentConfig(path, {})).toThrow(`(in ${path})`);
  });

  it("takes several servers (the nodes of a cluster) as a list or comma-separated", () => {
    const listed = loadAgentConfig(
      file("xmpp: { jid: a@b, password: p, service: [xmpp://n1:5222, xmpp://n2:5222] }\n"),
      {},
    );
    expect(listed.xmpp.service).toEqual(["xmpp://n1:5222", "xmpp://n2:5222"]);
    const fromEnv = loadAgentConfig(file(base), {
      JABMON_AGENT_SERVICE: "xmpp://n1:5222, xmpp://n2:5223",
    });
    expect(fromEnv.xmpp.service).toEqual(["xmpp://n1:5222", "xmpp://n2:5223"]);
    expect(() =>
      loadAgentConfig(file(base), { JABMON_AGENT_SERVICE: "xmpp://n1:5222,n2" }),
    ).toThrow(/xmpp.service: must look like xmpp:\/\/HOST:PORT/);
  });

  it("names the environment variable a bad value came from", () => {
    expect(() => loadAgentConfig(file(base), { JABMON_AGENT_SERVICE: "http://x" })).toThrow(
      "xmpp.service: must look like xmpp://HOST:PORT, or be a list of such (from JABMON_AGENT_SERVICE)",
    );
  });
});
