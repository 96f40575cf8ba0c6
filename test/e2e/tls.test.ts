/**
 * Transport security of jabmon's clients (issue 18 item 4) against a real
 * ejabberd: TLS is required, the certificate verified, SCRAM preferred (with
 * channel binding where ejabberd 23.01 has it), and `jabmon account add`'s
 * registration sends the password only under TLS.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { generateSelfSignedCert } from "../../src/stack/index.js";
import { registerAccount } from "../../src/xmpp/index.js";
import { type TestStack, useStack } from "../helpers/stack.js";

const secure = useStack("tls");
const plain = useStack("notls", { tls: false });
let otherCa: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "jabmon-other-ca-"));
  otherCa = (await generateSelfSignedCert(dir, ["localhost"])).certFile;
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A client of `stack` recording the SASL mechanism it picked and every element it sent. */
function recordingClient(
  stack: TestStack,
  account: { user: string; password: string },
  tls: { caFile?: string; insecure?: boolean; maxVersion?: "TLSv1.2" },
) {
  const xmpp = createClient({
    service: stack.ejabberd.c2sService,
    domain: stack.domain,
    username: account.user,
    password: account.password,
    resource: "tls-test",
    ...tls,
  });
  const sent: string[] = [];
  let mechanism: string | undefined;
  xmpp.on("send", (element: { name: string }) => sent.push(element.name));
  xmpp.on("sasl", (m: string) => {
    mechanism = m;
  });
  xmpp.on("error", () => {});
  return { xmpp, sent, mechanism: () => mechanism };
}

describe("a client on a server that requires STARTTLS", () => {
  it("logs in over TLS verified against the CA file, with SCRAM-SHA-256", async () => {
    const account = await secure.account();
    const { xmpp, mechanism } = recordingClient(secure, account, { caFile: secure.caFile });
    await xmpp.start();
    try {
      expect(xmpp.jid?.bare().toString()).toBe(account.jid);
      expect((xmpp as unknown as { isSecure(): boolean }).isSecure()).toBe(true);
      // ejabberd 23.01 offers -PLUS with tls-unique only, undefined on TLS 1.3.
      expect(mechanism()).toBe("SCRAM-SHA-256");
    } finally {
      await xmpp.stop();
    }
  });

  it("uses SCRAM-SHA-256-PLUS (tls-unique channel binding) on TLS 1.2", async () => {
    const account = await secure.account();
    const { xmpp, mechanism } = recordingClient(secure, account, {
      caFile: secure.caFile,
      maxVersion: "TLSv1.2",
    });
    await xmpp.start();
    try {
      expect(mechanism()).toBe("SCRAM-SHA-256-PLUS");
    } finally {
      await xmpp.stop();
    }
  });

  it("refuses a server whose certificate another CA signed, before sending credentials", async () => {
    const account = await secure.account();
    const { xmpp, sent } = recordingClient(secure, account, { caFile: otherCa });
    await expect(xmpp.start()).rejects.toThrow(/TLS with localhost failed: self[- ]signed/);
    expect(sent).not.toContain("auth");
    await xmpp.stop().catch(() => {});
  });

  it("refuses a self-signed server when only Node's CA store is trusted", async () => {
    const account = await secure.account();
    const { xmpp, sent } = recordingClient(secure, account, {});
    await expect(xmpp.start()).rejects.toThrow(/TLS with localhost failed/);
    expect(sent).not.toContain("auth");
    await xmpp.stop().catch(() => {});
  });

  it("registers an account (account add) over STARTTLS and refuses a wrong CA", async () => {
    await registerAccount(secure.ejabberd.c2sService, "localhost", "tlsreg", "tlsreg-password-1", {
      caFile: secure.caFile,
    });
    const client = await secure.client({
      user: "tlsreg",
      jid: "tlsreg@localhost",
      password: "tlsreg-password-1",
    });
    expect(client.jid?.bare().toString()).toBe("tlsreg@localhost");
    await expect(
      registerAccount(secure.ejabberd.c2sService, "localhost", "tlsreg2", "pw-2", {
        caFile: otherCa,
      }),
    ).rejects.toThrow(/TLS with localhost failed/);
  });
});

describe("a client on a server that offers no STARTTLS", () => {
  it("refuses to authenticate and sends no credentials", async () => {
    const account = await plain.account(); // the helper registers with insecure on this stack
    const { xmpp, sent } = recordingClient(plain, account, { caFile: secure.caFile });
    await expect(xmpp.start()).rejects.toThrow(
      /offered no STARTTLS: refusing to authenticate over plain TCP/,
    );
    expect(sent).not.toContain("auth");
    await xmpp.stop().catch(() => {});
  });

  it("logs in with SCRAM (never PLAIN) when insecure is set explicitly", async () => {
    const account = await plain.account();
    const { xmpp, mechanism } = recordingClient(plain, account, { insecure: true });
    await xmpp.start();
    try {
      expect(mechanism()).toBe("SCRAM-SHA-256");
    } finally {
      await xmpp.stop();
    }
  });

  it("does not send a registration password in clear (account add) unless insecure", async () => {
    await expect(
      registerAccount(plain.ejabberd.c2sService, "localhost", "clearreg", "clear-password-1"),
    ).rejects.toThrow(/offered no STARTTLS: refusing to send a password over plain TCP/);
    // Nothing was registered: logging in with that password fails.
    const { xmpp } = recordingClient(
      plain,
      { user: "clearreg", password: "clear-password-1" },
      { insecure: true },
    );
    await expect(xmpp.start()).rejects.toThrow(/not-authorized/);
    await xmpp.stop().catch(() => {});
  });
});
