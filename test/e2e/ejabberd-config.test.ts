/**
 * The documented /ejabberd.yml (issue 13, "durable, secure defaults") on a
 * real ejabberd 23.01, with only its paths, ports and addresses adapted:
 * STARTTLS required, SCRAM-SHA-256, registration from loopback but never of
 * an admin JID, and the component secret from a generated include file (no
 * secret in the shipped file; without the include ejabberd does not start).
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { freePort, PrivateEjabberd } from "../../src/stack/index.js";
import { registerAccount } from "../../src/xmpp/index.js";
import { waitFor } from "../helpers/wait.js";

const SHIPPED = join(import.meta.dirname, "..", "..", "ejabberd.yml");
const SECRET = "4f1d9c2b7a8e6f30d5c1b2a3";

/** A private ejabberd running the shipped file; `withSecret: false` leaves out the include file. */
async function shippedEjabberd(withSecret: boolean): Promise<PrivateEjabberd> {
  const ej = await PrivateEjabberd.create({
    name: withSecret ? "shipped" : "shipped-nosecret",
    c2sPort: await freePort(),
    componentPort: await freePort(),
    componentPassword: "unused-in-this-file-0000",
  });
  const conf = join(ej.dir, "conf");
  const yaml = readFileSync(SHIPPED, "utf8")
    .replaceAll("/etc/ejabberd/jabmon-secret.yml", join(conf, "jabmon-secret.yml"))
    // PrivateEjabberd wrote the run's certificate there, readable by the ejabberd user.
    .replaceAll("/etc/ejabberd/ejabberd.pem", join(conf, "ejabberd.pem"))
    .replace("port: 5222", `port: ${ej.config.c2sPort}`)
    .replace("port: 5347", `port: ${ej.config.componentPort}`)
    .replaceAll('ip: "::"', 'ip: "127.0.0.1"');
  writeFileSync(join(conf, "ejabberd.yml"), yaml);
  if (withSecret)
    writeFileSync(
      join(conf, "jabmon-secret.yml"),
      `define_macro:\n  JABMON_COMPONENT_SECRET: "${SECRET}"\n`,
    );
  return ej;
}

/** XEP-0114 handshake with `secret`: "accepted" or "refused". */
function componentHandshake(port: number, secret: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let buffer = "";
    let sent = false;
    const finish = (answer: string) => {
      socket.destroy();
      resolve(answer);
    };
    socket.on("connect", () =>
      socket.write(
        "<stream:stream xmlns='jabber:component:accept' " +
          "xmlns:stream='http://etherx.jabber.org/streams' to='monitor.localhost'>",
      ),
    );
    socket.on("data", (data) => {
      buffer += data;
      const id = /id='([^']+)'/.exec(buffer)?.[1];
      if (id && !sent) {
        sent = true;
        const digest = createHash("sha1")
          .update(id + secret)
          .digest("hex");
        socket.write(`<handshake>${digest}</handshake>`);
      }
      if (buffer.includes("<handshake/>")) finish("accepted");
      else if (buffer.includes("stream:error")) finish("refused");
    });
    socket.on("error", () => finish("refused"));
  });
}

let ej: PrivateEjabberd;
beforeAll(async () => {
  ej = await shippedEjabberd(true);
  await ej.start();
});
afterAll(async () => {
  await ej?.destroy();
});

describe("the documented ejabberd.yml", () => {
  it("does not start without the generated component secret (fails closed)", async () => {
    const bare = await shippedEjabberd(false);
    try {
      // Not bare.start(): ejabberdctl's "started" polls for a minute before giving up.
      await bare.ctl("start");
      const reason = await waitFor(
        () => {
          const log = readFileSync(join(bare.dir, "logs", "error.log"), "utf8");
          return /Failed to start ejabberd application: Failed to read YAML file '[^']*jabmon-secret\.yml'/.exec(
            log,
          )?.[0];
        },
        { timeoutMs: 40_000, intervalMs: 200, what: "ejabberd's refusal in error.log" },
      );
      expect(reason).toContain("jabmon-secret.yml");
      expect(await componentHandshake(bare.config.componentPort, "JABMON_COMPONENT_SECRET")).toBe(
        "refused",
      );
    } finally {
      await bare.destroy();
    }
  }, 90_000);

  it("accepts the component with the generated secret only, not the macro's name", async () => {
    expect(await componentHandshake(ej.config.componentPort, SECRET)).toBe("accepted");
    expect(await componentHandshake(ej.config.componentPort, "JABMON_COMPONENT_SECRET")).toBe(
      "refused",
    );
  });

  it("registers an agent over STARTTLS and logs it in with SCRAM-SHA-256", async () => {
    await registerAccount(ej.c2sService, "localhost", "web01", "web01-password-x", {
      caFile: ej.caFile,
    });
    const xmpp = createClient({
      service: ej.c2sService,
      domain: "localhost",
      username: "web01",
      password: "web01-password-x",
      resource: "agent",
      caFile: ej.caFile,
    });
    let mechanism: string | undefined;
    xmpp.on("sasl", (m: string) => {
      mechanism = m;
    });
    xmpp.on("error", () => {});
    await xmpp.start();
    await xmpp.stop();
    expect(mechanism).toBe("SCRAM-SHA-256");
  });

  it("refuses to register an admin's JID, even from loopback", async () => {
    await expect(
      registerAccount(ej.c2sService, "localhost", "admin", "claimed-admin-password", {
        caFile: ej.caFile,
      }),
    ).rejects.toThrow(/refused: (forbidden|not-allowed)/);
  });

  it("offers no login over plain TCP: even an insecure client gets no mechanism before STARTTLS", async () => {
    const xmpp = createClient({
      service: ej.c2sService,
      domain: "localhost",
      username: "web01",
      password: "web01-password-x",
      resource: "plain",
      caFile: ej.caFile,
      insecure: true,
    });
    xmpp.on("error", () => {});
    const secured = new Promise<boolean>((resolve) =>
      xmpp.on("online", () => resolve((xmpp as unknown as { isSecure(): boolean }).isSecure())),
    );
    await xmpp.start();
    // insecure only permits plain TCP when the server offers nothing better; here TLS was used.
    expect(await secured).toBe(true);
    await xmpp.stop();
  });
});
