/**
 * Node names, item ids and JIDs as the pubsub service checks and keys them.
 *
 * Every JID the service compares or stores goes through xmpp's `bareJid`: the
 * local part and domain lower-cased (RFC 7622: they compare case-insensitively,
 * as ejabberd's nodeprep applies it), the resource as sent. ejabberd passes on
 * the case a client logged in with (`Web01@localhost/x`), so without this one
 * account would be two owners, subscribers or agents.
 */
import { bareJid, type Element } from "../xmpp/index.js";
import { pubsubError } from "./errors.js";

/** The node whose disco#items lists every agent node. */
export const ALERTPUBLISHERS = "alertpublishers";
export const AGENT_NODE_PREFIX = "agents/";

export const BARE_JID = /^(?:[^@/\s]{1,1023}@)?[^@/\s]{1,1023}$/;
export const FULL_JID = /^(?:[^@/\s]{1,1023}@)?[^@/\s]{1,1023}(?:\/[^\s]{1,1023})?$/;
// Printable, no control characters, no leading/trailing space, at most 256 characters.
export const NODE_NAME = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,254}[^\s\p{Cc}])?$/u;
export const ITEM_ID = /^[^\p{Cc}]{1,256}$/u;

export function validateNodeName(node: string): void {
  if (!NODE_NAME.test(node))
    throw pubsubError("JABMON_ERR_INVALID_NODE_NAME", "node names are 1-256 printable characters");
  if (node.startsWith(AGENT_NODE_PREFIX) && !BARE_JID.test(node.slice(AGENT_NODE_PREFIX.length)))
    throw pubsubError("JABMON_ERR_INVALID_NODE_NAME", "agent nodes are agents/<bare JID>");
}

/** The agent's bare JID for an `agents/<bare JID>` node, as the name spells it. */
export function agentOwnerOf(node: string): string | undefined {
  return node.startsWith(AGENT_NODE_PREFIX) ? node.slice(AGENT_NODE_PREFIX.length) : undefined;
}

/** The owner of an `agents/<bare JID>` node as the service keys it (lower-cased). */
export function agentOf(node: string): string | undefined {
  const owner = agentOwnerOf(node);
  return owner === undefined ? undefined : bareJid(owner);
}

/** A JID as the service keys it: the bare part by bareJid, the resource as sent. */
export function jidKey(jid: string): string {
  const slash = jid.indexOf("/");
  return slash === -1 ? bareJid(jid) : bareJid(jid) + jid.slice(slash);
}

/** Who sent a request: the JID keyed as subscriptions are, and its bare JID. */
export interface Requester {
  jid: string;
  bare: string;
}

export const requester = (from: string): Requester => ({ jid: jidKey(from), bare: bareJid(from) });

export function requireNode(node: string | undefined): string {
  if (!node) throw pubsubError("JABMON_ERR_NODEID_REQUIRED", "node attribute required");
  validateNodeName(node);
  return node;
}

export function only(parent: Element, name: string): Element {
  const child = parent.getChild(name);
  if (!child) throw pubsubError("JABMON_ERR_BAD_REQUEST", `expected <${name}/>`);
  return child;
}
