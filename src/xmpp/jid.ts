/**
 * JID helpers. Local part and domain compare case-insensitively (RFC 7622
 * nodeprep/nameprep), so jabmon keys and compares bare JIDs lower-cased.
 */

/** `user@domain/resource` → `user@domain`, lower-cased. */
export function bareJid(jid: string): string {
  const slash = jid.indexOf("/");
  return (slash === -1 ? jid : jid.slice(0, slash)).toLowerCase();
}
