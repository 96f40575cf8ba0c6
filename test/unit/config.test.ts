import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, componentEnv, componentSchema, loadConfig } from "../../src/config/index.js";

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
    const path = file("component.yml", "xmpp:\n  password: from-file\nhttp:\n  port: 9000\n");
    const config = loadConfig(componentSchema, {
      file: path,
      envMap: componentEnv,
      env: { JABMON_HTTP_PORT: "9100" },
    });
    expect(config.xmpp).toEqual({
      service: "xmpp://127.0.0.1:5347",
      jid: "monitor.localhost",
      password: "from-file",
    });
    expect(config.http.port).toBe(9100);
    expect(config.redis.prefix).toBe("jabmon:");
  });
});
