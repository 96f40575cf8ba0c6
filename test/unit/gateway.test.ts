import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { componentEnv, componentSchema, loadConfig } from "../../src/config/index.js";
import {
  buildGateway,
  hashToken,
  InFlight,
  presentedToken,
  RateLimiter,
  TokenTable,
} from "../../src/gateway/index.js";
import { silentLogger } from "../../src/log/index.js";
import { responseQuery } from "../../src/rpc/index.js";
import { generateSelfSignedCert } from "../../src/stack/index.js";

const base = { xmpp: { password: "k3Jx9qPz2Lm4Vb7Nw8Rt" } };
const load = (env: Record<string, string>, tree: Record<string, unknown> = {}) => {
  const file = undefined;
  return loadConfig(componentSchema, {
    file,
    env: { JABMON_COMPONENT_PASSWORD: "k3Jx9qPz2Lm4Vb7Nw8Rt", ...env },
    envMap: componentEnv,
    overrides: tree,
  });
};

const run = promisify(execFile);

describe("gateway configuration", () => {
  it("is off by default", () => {
    expect(componentSchema.parse(base).gateway).toMatchObject({
      enabled: false,
      host: "127.0.0.1",
      port: 8090,
    });
  });

  it("reads tokens as jid:sha256 pairs from JABMON_GATEWAY_TOKENS", () => {
    const hash = hashToken("a-token-of-some-length");
    const config = load({
      JABMON_GATEWAY_ENABLED: "true",
      JABMON_GATEWAY_TOKENS: `ci@example.org:${hash.toUpperCase()}`,
    });
    expect(config.gateway.tokens).toEqual([{ jid: "ci@example.org", sha256: hash }]);
  });

  it("names the key when enabled without tokens, with a token that is not a hash, or off loopback without TLS", () => {
    expect(() => load({ JABMON_GATEWAY_ENABLED: "1" })).toThrow(
      /gateway\.tokens: at least one token is required/,
    );
    expect(() => load({ JABMON_GATEWAY_TOKENS: "ci@example.org:plaintext" })).toThrow(
      /gateway\.tokens\.0\.sha256: must be the token's SHA-256/,
    );
    const tokens = `ci@example.org:${hashToken("x")}`;
    expect(() =>
      load({
        JABMON_GATEWAY_ENABLED: "1",
        JABMON_GATEWAY_TOKENS: tokens,
        JABMON_GATEWAY_HOST: "0.0.0.0",
      }),
    ).toThrow(
      /gateway\.host: 0\.0\.0\.0 is not loopback: set tlsCert and tlsKey .*\(from JABMON_GATEWAY_HOST\)/,
    );
    expect(() => load({ JABMON_GATEWAY_PORT: "http" })).toThrow(
      /gateway\.port: .*\(from JABMON_GATEWAY_PORT\)/,
    );
  });
});

describe("gateway tokens", () => {
  const table = new TokenTable([
    { jid: "Ops@Example.org", sha256: hashToken("first-token") },
    { jid: "ci@example.org", sha256: hashToken("second-token") },
  ]);

  it("maps a token to its JID by hash, and nothing else", () => {
    expect(table.lookup("second-token")?.jid).toBe("ci@example.org");
    expect(table.lookup("first-token")?.jid).toBe("ops@example.org");
    expect(table.lookup("first-token ")).toBeUndefined();
    expect(table.lookup("")).toBeUndefined();
  });

  it("takes the token from a bearer header or the password of basic credentials", () => {
    expect(presentedToken("Bearer abc")).toBe("abc");
    expect(presentedToken(`Basic ${Buffer.from("anyone:abc:def").toString("base64")}`)).toBe(
      "abc:def",
    );
    expect(presentedToken(`Basic ${Buffer.from("nopassword").toString("base64")}`)).toBeUndefined();
    expect(presentedToken("Digest x")).toBeUndefined();
    expect(presentedToken(undefined)).toBeUndefined();
  });
});

describe("gateway limits", () => {
  it("allows the burst, then refills at the rate, per key", () => {
    const rate = new RateLimiter(3);
    const t = 1_000_000;
    expect([1, 2, 3, 4].map(() => rate.take("a", t))).toEqual([true, true, true, false]);
    expect(rate.take("b", t)).toBe(true);
    expect(rate.take("a", t + 340)).toBe(true);
    expect(rate.take("a", t + 340)).toBe(false);
  });

  it("bounds calls in flight", () => {
    const inFlight = new InFlight(2);
    expect([inFlight.tryEnter(), inFlight.tryEnter(), inFlight.tryEnter()]).toEqual([
      true,
      true,
      false,
    ]);
    inFlight.leave();
    expect(inFlight.tryEnter()).toBe(true);
  });
});

describe("the gateway over HTTPS", () => {
  it("serves TLS with the configured certificate and key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jabmon-gw-tls-"));
    const { certFile: cert, keyFile: key } = await generateSelfSignedCert(dir, ["127.0.0.1"], 1);
    const calls: string[] = [];
    const app = buildGateway({
      rpc: {
        invoke: async ({ from }) => {
          calls.push(from);
          return responseQuery("pong");
        },
      },
      config: {
        host: "127.0.0.1",
        port: 0,
        tokens: [{ jid: "ci@example.org", sha256: hashToken("tls-token-0123456789") }],
        tlsCert: cert,
        tlsKey: key,
        maxBodyBytes: 4096,
        callsPerSecond: 10,
        maxInFlight: 4,
        callTimeoutMs: 5000,
      },
      log: silentLogger(),
    });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      expect(url).toMatch(/^https:/);
      const body = await new Promise<string>((resolve, reject) => {
        const request = https.request(
          `${url}/api/rpc/system.listMethods`,
          {
            method: "POST",
            ca: readFileSync(cert),
            headers: {
              authorization: "Bearer tls-token-0123456789",
              "content-type": "application/json",
            },
          },
          (response) => {
            let text = "";
            response.on("data", (d: Buffer) => {
              text += d.toString();
            });
            response.on("end", () => resolve(text));
          },
        );
        request.on("error", reject);
        request.end("[]");
      });
      expect(JSON.parse(body)).toEqual({ result: "pong" });
      expect(calls).toEqual(["ci@example.org/jabmon-gateway"]);
    } finally {
      await app.close();
    }
  });
});

describe("the gateway's log", () => {
  it("names the JID and the method, never the token", async () => {
    const lines: string[] = [];
    const log = pino({ level: "debug" }, { write: (line: string) => lines.push(line) });
    const token = "secret-token-that-must-not-leak";
    const app = buildGateway({
      rpc: { invoke: async () => responseQuery(["ok"]) },
      config: {
        host: "127.0.0.1",
        port: 0,
        tokens: [{ jid: "ci@example.org", sha256: hashToken(token) }],
        tlsCert: "",
        tlsKey: "",
        maxBodyBytes: 4096,
        callsPerSecond: 1,
        maxInFlight: 4,
        callTimeoutMs: 5000,
      },
      log,
    });
    const call = (authorization: string) =>
      app.inject({
        method: "POST",
        url: "/api/rpc/hosts.list",
        headers: { authorization, "content-type": "application/json" },
        payload: "[]",
      });
    expect((await call(`Bearer ${token}`)).statusCode).toBe(200);
    expect((await call(`Bearer ${token}`)).statusCode).toBe(429);
    expect((await call(`Basic ${Buffer.from(`x:${token}x`).toString("base64")}`)).statusCode).toBe(
      401,
    );
    await app.close();
    const text = lines.join("");
    expect(text).toContain('"jid":"ci@example.org"');
    expect(text).toContain('"method":"hosts.list"');
    expect(text).not.toContain(token);
    expect(text).not.toContain(Buffer.from(`x:${token}x`).toString("base64"));
  });
});

describe("jabmon gateway token", () => {
  it("prints a new token and config lines holding only its hash, which the config accepts", async () => {
    const cli = join(import.meta.dirname, "..", "..", "dist", "cli", "main.js");
    const { stdout } = await run(process.execPath, [cli, "gateway", "token", "ci@example.org"]);
    const token = stdout.match(/^token .*: (\S+)$/m)?.[1] as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const env = stdout.match(/^env: +JABMON_GATEWAY_TOKENS=(\S+)$/m)?.[1] as string;
    expect(env).toBe(`ci@example.org:${hashToken(token)}`);
    expect(stdout.split("\n").filter((l) => l.includes(token))).toHaveLength(1);
    const config = load({ JABMON_GATEWAY_ENABLED: "true", JABMON_GATEWAY_TOKENS: env });
    expect(new TokenTable(config.gateway.tokens).lookup(token)?.jid).toBe("ci@example.org");
  });
});
