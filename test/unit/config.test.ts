import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAgentConfig } from "../../src/agent/index.js";
import { ConfigError, componentEnv, componentSchema, loadConfig } from "../../src/config/index.js";

const ROOT = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "jabmon-config-"));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe("configuration", () => {
  it("names the missing key and says why", () => {
    expect(() => loadConfig(componentSchema, { envMap: componentEnv, env: {} })).toThrow(
      /xmpp\.password: is required: the component secret/,
    );
  });

  describe("the process role", () => {
    const load = (env: Record<string, string>, file?: string) =>
      loadConfig(componentSchema, { envMap: componentEnv, env, ...(file ? { file } : {}) });

    it("is all by default, and any of all, xmpp, ingest, http from JABMON_ROLE", () => {
      expect(load({ JABMON_COMPONENT_PASSWORD: "k3Jx9qPz2Lm4Vb7Nw8Rt" }).role).toBe("all");
      for (const role of ["all", "xmpp", "ingest", "http"])
        expect(
          load({ JABMON_ROLE: role, JABMON_COMPONENT_PASSWORD: "k3Jx9qPz2Lm4Vb7Nw8Rt" }).role,
        ).toBe(role);
    });

    it("names the key, the roles and where a bad one came from", () => {
      expect(() => load({ JABMON_ROLE: "pubsub" })).toThrow(
        /role: must be one of all, xmpp, ingest, http \(got "pubsub"\) \(from JABMON_ROLE\)/,
      );
      const path = file("role.yml", "role: 3\n");
      expect(() => load({}, path)).toThrow(
        new RegExp(`role: must be one of all, xmpp, ingest, http \\(got 3\\) \\(in ${path}\\)`),
      );
    });

    it("needs the component secret only for the roles with a link", () => {
      expect(load({ JABMON_ROLE: "ingest" }).xmpp.password).toBeUndefined();
      expect(load({ JABMON_ROLE: "http" }).role).toBe("http");
      expect(() => load({ JABMON_ROLE: "xmpp" })).toThrow(
        /xmpp\.password: is required: the component secret shared with ejabberd \(role xmpp connects to it\)/,
      );
    });

    it("refuses role http with the status page disabled", () => {
      expect(() => load({ JABMON_ROLE: "http", JABMON_HTTP_ENABLED: "false" })).toThrow(
        /http\.enabled: must be true for role http/,
      );
    });
  });

  it("names the environment variable a bad value came from", () => {
    const env = { JABMON_COMPONENT_PASSWORD: "s", JABMON_REDIS_URL: "http://nope" };
    expect(() => loadConfig(componentSchema, { envMap: componentEnv, env })).toThrow(
      /redis\.url: must be a redis:\/\/ URL \(from JABMON_REDIS_URL\)/,
    );
  });

  it("names the file a bad value came from", () => {
    const path = file("component.yml", "xmpp:\n  jid: not a domain\n  password: x\n");
    const error = (() => {
      try {
        loadConfig(componentSchema, { file: path, envMap: componentEnv, env: {} });
      } catch (err) {
        return err as Error;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message).toContain("xmpp.jid: must be a domain name");
    expect(error?.message).toContain(path);
  });

  it("reports a file that is not YAML", () => {
    const path = file("bad.yml", "xmpp: [unclosed\n");
    expect(() =>
      loadConfig(componentSchema, { file: path, envMap: componentEnv, env: {} }),
    ).toThrow(/is not valid/);
  });

  it("lets environment variables override the file and fills defaults", () => {
    const path = file(
      "component.yml",
      "xmpp:\n  password: from-file-8c1f0e4b2a\nhttp:\n  port: 9000\n",
    );
    const config = loadConfig(componentSchema, {
      file: path,
      envMap: componentEnv,
      env: { JABMON_HTTP_PORT: "9100" },
    });
    expect(config.xmpp).toEqual({
      service: "xmpp://127.0.0.1:5347",
      jid: "monitor.localhost",
      password: "from-file-8c1f0e4b2a",
    });
    expect(config.http.port).toBe(9100);
    expect(config.redis.prefix).toBe("jabmon:");
  });

  it("reads a secret from the file <NAME>_FILE names, so it need not be in the environment", () => {
    const secret = file("component-secret", "from-a-file-9f2c4e1a7b\n");
    const config = loadConfig(componentSchema, {
      envMap: componentEnv,
      env: { JABMON_COMPONENT_PASSWORD_FILE: secret },
    });
    expect(config.xmpp.password).toBe("from-a-file-9f2c4e1a7b");
    expect(() =>
      loadConfig(componentSchema, {
        envMap: componentEnv,
        env: { JABMON_COMPONENT_PASSWORD_FILE: secret, JABMON_COMPONENT_PASSWORD: "x" },
      }),
    ).toThrow(/set JABMON_COMPONENT_PASSWORD or JABMON_COMPONENT_PASSWORD_FILE, not both/);
    expect(() =>
      loadConfig(componentSchema, {
        envMap: componentEnv,
        env: { JABMON_COMPONENT_PASSWORD_FILE: join(dir, "absent") },
      }),
    ).toThrow(/JABMON_COMPONENT_PASSWORD_FILE: cannot read .*absent/);
  });

  it("gives the agent its password from --password-file or JABMON_AGENT_PASSWORD_FILE", () => {
    const secret = file("agent-secret", "agent-pw\n");
    const env = { JABMON_AGENT_JID: "a@localhost" };
    expect(loadAgentConfig(undefined, env, secret).xmpp.password).toBe("agent-pw");
    expect(
      loadAgentConfig(undefined, { ...env, JABMON_AGENT_PASSWORD_FILE: secret }).xmpp.password,
    ).toBe("agent-pw");
    expect(() => loadAgentConfig(undefined, env, file("empty", ""))).toThrow(
      /--password-file: .*empty is empty/,
    );
  });

  describe("the component secret (xmpp.password)", () => {
    const load = (password: string) => () =>
      loadConfig(componentSchema, {
        envMap: componentEnv,
        env: { JABMON_COMPONENT_PASSWORD: password },
      });

    it("refuses the placeholder shipped in ejabberd.yml and docker-compose.yml, naming the key", () => {
      const shipped = [
        readFileSync(join(ROOT, "ejabberd.yml"), "utf8"),
        readFileSync(join(ROOT, "docker-compose.yml"), "utf8"),
      ].join("\n");
      // Whatever the shipped samples hold as a component secret must be refused.
      const samples = [...shipped.matchAll(/(?:password|component-secret):\s*"([^"]+)"/g)].map(
        (m) => m[1] as string,
      );
      for (const secret of ["CHANGE-ME-component-secret", "change-me", ...samples])
        expect(load(secret)).toThrow(
          /xmpp\.password: is a well-known placeholder.*\(from JABMON_COMPONENT_PASSWORD\)/,
        );
    });

    it("refuses other well-known placeholders and repeated characters", () => {
      for (const secret of [
        "secret",
        "Password",
        "REPLACE_ME_with_a_secret",
        "aaaaaaaaaaaaaaaaaaaa",
      ])
        expect(load(secret)).toThrow(/xmpp\.password: is a well-known placeholder/);
    });

    it("refuses a secret shorter than 16 characters", () => {
      expect(load("k3Jx9qPz2Lm4")).toThrow(/xmpp\.password: is too short \(12 characters\)/);
    });

    it("accepts a random secret of 16 characters or more", () => {
      expect(load("9f2c4e1a7b3d5f60")().xmpp.password).toBe("9f2c4e1a7b3d5f60");
    });
  });
});

describe("alerting config", () => {
  it("names the key of a route that refers to an unknown receiver", () => {
    const result = componentSchema.safeParse({
      alerting: {
        receivers: [{ name: "oncall", jids: ["oncall@example.org"] }],
        route: {
          receiver: "oncall",
          routes: [{ match: { check: "db*" }, escalate: [{ afterMs: 60000, receiver: "lead" }] }],
        },
      },
    });
    expect(result.success).toBe(false);
    const issues = result.success ? [] : result.error.issues;
    expect(issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toContain(
      "alerting.route.routes.0.escalate.0.receiver: no receiver named 'lead' in alerting.receivers",
    );
  });

  it("requires a route when receivers are defined", () => {
    const result = componentSchema.safeParse({ alerting: { receivers: [{ name: "a" }] } });
    expect(result.success).toBe(false);
    expect(result.success ? [] : result.error.issues.map((i) => i.path.join("."))).toContain(
      "alerting.route",
    );
  });
});
