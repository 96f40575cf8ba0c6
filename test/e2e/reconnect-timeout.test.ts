/**
 * A server that opens the stream and then never answers (ejabberd while it
 * starts or stops, a wedged proxy) must not hold a reconnecting entity for
 * ever: the attempt is given up after connectTimeoutMs and tried again (on
 * the next server of the list, if any). Before the bound, 96 of 200 agents stayed stuck in their first
 * attempt after an ejabberd restart (test/e2e/plane.test.ts).
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { createLogger, silentLogger } from "../../src/log/index.js";
import { keepConnected } from "../../src/xmpp/index.js";
import { useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const stack = useStack("reconnect-timeout");
let silent: Server;
let mute: Server;
const held: Socket[] = [];

/** A server that opens the stream, offers `features`, and then never answers. */
function openThenSilent(features: string): Server {
  return createServer((socket) => {
    held.push(socket);
    socket.on("error", () => {});
    socket.once("data", () =>
      socket.write(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
          "xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>" +
          `<stream:features>${features}</stream:features>`,
      ),
    );
  });
}
const serviceOf = (server: Server) =>
  `xmpp://127.0.0.1:${(server.address() as { port: number }).port}`;

beforeAll(async () => {
  // Opens the stream and offers SASL (or STARTTLS), then never answers.
  silent = openThenSilent(
    "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms>",
  );
  // Accepts TCP and never writes a byte (ejabberd while it boots).
  mute = createServer((socket) => {
    held.push(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
}, 60_000);
afterAll(async () => {
  for (const s of held) s.destroy();
  silent?.close();
  mute?.close();
});

describe("keepConnected", () => {
  it("gives up an attempt whose server never answers and tries again", async () => {
    const account = await stack.account("rt-agent");
    const silentService = `xmpp://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const client = createClient({
      service: silentService,
      domain: stack.domain,
      username: account.user,
      password: account.password,
      resource: "rt",
    });
    client.on("error", () => {});
    const keeper = keepConnected(client, {
      log: process.env.RT_LOG ? createLogger("rt", "debug") : silentLogger(),
      connectTimeoutMs: 1000,
      minDelayMs: 100,
      maxDelayMs: 500,
    });
    try {
      // Without the bound the first attempt waits for ever: one connection only.
      await waitFor(() => held.length >= 2, { timeoutMs: 10_000, what: "a second attempt" });
    } finally {
      await keeper.stop();
    }
  });

  it("comes online on the next server after an attempt cut off during SASL", async () => {
    // The silent server takes our <auth/> and never answers: that exchange is
    // abandoned mid-SASL. Its listener used to outlive the connection, answer
    // ejabberd's challenge on the next attempt with the old nonce and fail
    // it, and every later attempt the same way: the client never came back.
    const account = await stack.account("rt-sasl");
    const silentService = `xmpp://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const realService = stack.ejabberd.c2sService;
    const client = createClient({
      service: silentService,
      domain: stack.domain,
      username: account.user,
      password: account.password,
      resource: "rt-sasl",
      caFile: stack.caFile,
      // The silent server offers no STARTTLS; ejabberd does, and is verified.
      insecure: true,
    });
    const errors: string[] = [];
    client.on("error", (err: Error) => errors.push(err.message));
    const heldBefore = held.length;
    const keeper = keepConnected(client, {
      log: silentLogger(),
      services: [silentService, realService],
      connectTimeoutMs: 1000,
      minDelayMs: 100,
      maxDelayMs: 200,
    });
    try {
      await waitFor(() => client.status === "online", {
        timeoutMs: 15_000,
        what: `online via ejabberd (errors: ${errors.join("; ")})`,
      });
      expect(held.length).toBeGreaterThan(heldBefore);
      expect(errors.filter((e) => e.includes("nonce"))).toEqual([]);
    } finally {
      await keeper.stop();
    }
  });

  it("leaves nothing behind of attempts whose stream never opened", async () => {
    // xmpp.js's start() waits for "online" with a listener on "error" and
    // left it behind when open() timed out: one more per attempt, and the next
    // "error" event rejected them all unobserved (hundreds of unhandled
    // rejections when an ejabberd restart made 200 agents retry).
    const client = createClient({
      service: serviceOf(mute),
      domain: stack.domain,
      username: "nobody",
      password: "unused-password",
      resource: "rt-mute",
      caFile: stack.caFile,
    });
    client.on("error", () => {});
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const heldBefore = held.length;
    const keeper = keepConnected(client, {
      log: silentLogger(),
      connectTimeoutMs: 300,
      minDelayMs: 100,
      maxDelayMs: 100,
    });
    const listenersAtStart = client.listenerCount("error");
    try {
      await waitFor(() => held.length >= heldBefore + 4, {
        timeoutMs: 15_000,
        what: "four attempts",
      });
      // Each abandoned attempt's waits (for the stream header, for "online")
      // must end with it, not at the entity's 15 s step timeout.
      await new Promise((r) => setTimeout(r, 500));
      // The attempt in progress waits for the header and for "online": two.
      expect(client.listenerCount("error")).toBeLessThanOrEqual(listenersAtStart + 2);
      client.emit("error", new Error("a transport error, as xmpp.js emits them"));
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await keeper.stop();
    }
  });
});
