/**
 * Light agent sessions for the fleet-sized benches: accounts `host<i>`
 * registered in batches, and xmpp.js sessions (one TCP connection each, as a
 * real agent has) that send the status presence of docs/protocol.md. They
 * speak the wire protocol, not the agent's code: a bench needs thousands.
 */
import { xml } from "@xmpp/client";
import { COMPONENT, dist, inBatches, NS_JABMON } from "./run.mjs";

const { registerAccount } = await import(dist("xmpp/index.js"));
const { createClient } = await import(dist("client/index.js"));

/** Register every name of `names` (one password) on the c2s `service`, 20 at a time. */
export function registerAccounts(service, names, password, tls, progress) {
  return inBatches(names.length, 20, (i) => registerAccount(service, "localhost", names[i], password, tls), progress);
}

/** An agent's status presence to the component: `status` text and the `<x/>` attributes. */
export function statusPresence(host, { status = "all ok", ...attrs } = {}) {
  return xml(
    "presence",
    { to: COMPONENT },
    xml("status", {}, status),
    xml("x", { xmlns: NS_JABMON, host, version: "bench", state: "ok", ...attrs }),
  );
}

/**
 * An online session of `user@localhost` that has sent `presence` (if any).
 * `tls`: `{ insecure: true }` on a plain-TCP ejabberd, `{ caFile }` otherwise.
 */
export async function openSession(service, user, password, { tls, resource = "agent", presence } = {}) {
  const xmpp = createClient({ service, domain: "localhost", username: user, password, resource, ...tls });
  xmpp.on("error", () => {});
  await xmpp.start();
  if (presence) await xmpp.send(presence);
  return xmpp;
}
