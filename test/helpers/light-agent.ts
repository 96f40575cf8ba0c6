/**
 * Light agents for tests of the monitor's host logic: plain XMPP sessions
 * that send the status presence of docs/protocol.md (with `depends` when they
 * declare a parent), and die as a dead network would.
 */
import type { Client } from "@xmpp/client";
import { xml } from "@xmpp/client";
import { createClient } from "../../src/client/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import type { Account, TestStack } from "./stack.js";
import { waitFor } from "./wait.js";

/** A session of `account` that has sent its status presence to the component. */
export async function statusSession(
  stack: TestStack,
  account: Account,
  depends?: string,
): Promise<Client> {
  const xmpp = createClient({
    service: stack.ejabberd.c2sService,
    domain: "localhost",
    username: account.user,
    password: account.password,
    resource: "agent",
    caFile: stack.caFile,
  });
  xmpp.on("error", () => {});
  await xmpp.start();
  await xmpp.send(
    xml(
      "presence",
      { to: stack.componentJid },
      xml("status", {}, "all ok"),
      xml("x", {
        xmlns: "urn:jabmon:0",
        host: account.user,
        version: "test",
        state: "ok",
        ...(depends ? { depends } : {}),
      }),
    ),
  );
  return xmpp;
}

/** As a dead network would: the TCP connection just goes (no reconnect). */
export function dropConnection(xmpp: Client): void {
  (xmpp as unknown as { reconnect?: { stop(): void } }).reconnect?.stop();
  // Over TLS the entity's socket wraps the TLS socket, which is what must go.
  type Destroyable = { destroy?(): void; socket?: Destroyable };
  const socket = (xmpp as unknown as { socket?: Destroyable }).socket;
  (socket?.destroy ? socket : socket?.socket)?.destroy?.();
}

/** Wait until the monitor shows every one of `jids` online (or offline). */
export async function waitHostsOnline(
  component: RunningComponent,
  jids: string[],
  want: boolean,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    async () => {
      const hosts = await component.monitor.status.listHosts();
      const state = new Map(hosts.map((h) => [h.jid, h.online]));
      return jids.every((j) => state.get(j) === want) || undefined;
    },
    { timeoutMs, what: `${jids.length} hosts ${want ? "online" : "offline"}` },
  );
}
