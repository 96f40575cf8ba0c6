/**
 * The XMPP client of jabmon's bots and tools (AdminBot, alertbot, tests,
 * benchmarks): the same assembled client as the agent's (src/xmpp/client.ts),
 * typed as @xmpp/client's Client, which it is a subset of.
 *
 * Stream management (XEP-0198) stays off here. With @xmpp/client's own
 * assembly against ejabberd 23.01 the stanza counts drift apart, and ejabberd
 * answers an over-count with a stream error ("Client acknowledged more
 * stanzas than sent by server"); a bot that loses its session that way misses
 * the messages sent to it meanwhile. Bots need no resumption: they reconnect
 * (keepConnected) and rejoin their rooms.
 */
import type { Client } from "@xmpp/client";
import { assembleClient, type TlsClientOptions } from "../xmpp/index.js";

export type { Client };

/** TLS is required and verified unless `insecure` (see src/xmpp/client.ts). */
export interface ClientOptions extends TlsClientOptions {
  service: string;
  domain: string;
  username: string;
  password: string;
  resource: string;
}

export function createClient(options: ClientOptions): Client {
  const client = assembleClient({
    service: options.service,
    jid: `${options.username}@${options.domain}`,
    password: options.password,
    resource: options.resource,
    streamManagement: false,
    caFile: options.caFile,
    insecure: options.insecure,
    maxVersion: options.maxVersion,
  });
  return client as unknown as Client;
}
