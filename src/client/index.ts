/**
 * The standard XMPP client of jabmon's bots and tools (AdminBot, alertbot,
 * tests, benchmarks): @xmpp/client with the late-data guard and native SCRAM.
 * The host agent assembles a lighter client of its own (src/agent/connection.ts).
 */
import { type Client, client } from "@xmpp/client";
import { guardLateData, useNativeScram } from "../xmpp/index.js";

export type { Client };

export interface ClientOptions {
  service: string;
  domain: string;
  username: string;
  password: string;
  resource: string;
}

export function createClient(options: ClientOptions): Client {
  useNativeScram();
  return guardLateData(client(options));
}
