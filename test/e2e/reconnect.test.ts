/**
 * An agent's list of servers (the nodes of a cluster): a connection attempt
 * that cannot come online moves on to the next server at once, also when the
 * TCP connection is accepted (a proxy or load balancer in front of a dead
 * node) or never answered (a hung server), instead of waiting for ever.
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/index.js";
import { assembleClient, keepConnected } from "../../src/xmpp/index.js";
import { useStack } from "../helpers/stack.js";

const stack = useStack("reconnect");
const servers: Server[] = [];
const sockets: Socket[] = [];

/** A TCP server that accepts and then closes (`close`) or says nothing (`hang`). */
async function fakeServer(behaviour: "close" | "hang"): Promise<string> {
  const server = createServer((socket) => {
    sockets.push(socket);
    if (behaviour === "close") socket.end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return `xmpp://127.0.0.1:${address.port}`;
}

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  for (const server of servers) server.close();
});

async function onlineVia(services: string[], startTimeoutMs: number): Promise<number> {
  const account = await stack.account();
  const xmpp = assembleClient({
    service: services[0] as string,
    jid: account.jid,
    password: account.password,
    resource: "agent",
    streamManagement: false,
    caFile: stack.caFile,
  });
  const started = Date.now();
  const keeper = keepConnected(xmpp, {
    log: silentLogger(),
    services,
    minDelayMs: 100,
    maxDelayMs: 500,
    startTimeoutMs,
  });
  try {
    await keeper.firstOnline;
    return Date.now() - started;
  } finally {
    await keeper.stop();
  }
}

describe("an agent with several servers", () => {
  it("moves on when the first accepts TCP and closes it before the session is online", async () => {
    const took = await onlineVia([await fakeServer("close"), stack.ejabberd.c2sService], 20_000);
    // Well under the start timeout: the close itself ended the attempt.
    expect(took).toBeLessThan(10_000);
  });

  it("moves on when the first accepts TCP and never answers", async () => {
    const took = await onlineVia([await fakeServer("hang"), stack.ejabberd.c2sService], 1500);
    expect(took).toBeGreaterThanOrEqual(1500);
    expect(took).toBeLessThan(15_000);
  });
});
