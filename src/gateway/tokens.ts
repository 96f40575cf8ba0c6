/**
 * Gateway callers authenticate with a bearer token mapped to a bare JID in
 * the configuration. The configuration holds only each token's SHA-256, and a
 * presented token is compared with every entry in constant time, so neither
 * the file nor the response time gives a token away. Tokens are never logged.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export interface TokenEntry {
  /** The bare JID the token acts as; the RPC access lists apply to it. */
  jid: string;
  /** SHA-256 of the token, lower-case hex. */
  sha256: string;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** 32 random bytes, base64url: what `jabmon gateway token` hands out. */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

export class TokenTable {
  readonly #entries: Array<{ jid: string; digest: Buffer }>;

  constructor(entries: TokenEntry[]) {
    this.#entries = entries.map((e) => ({
      jid: e.jid.toLowerCase(),
      digest: Buffer.from(e.sha256, "hex"),
    }));
  }

  /** The JID of the presented token, or undefined. Every entry is compared (no early exit). */
  lookup(token: string): { jid: string; key: string } | undefined {
    const digest = createHash("sha256").update(token, "utf8").digest();
    let found: { jid: string; key: string } | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(digest, entry.digest) && !found)
        found = { jid: entry.jid, key: entry.digest.toString("hex") };
    }
    return found;
  }
}

/**
 * The token from `Authorization: Bearer <token>`, or the password of HTTP
 * basic credentials (what XML-RPC libraries send for `http://user:TOKEN@host/RPC2`;
 * the user name is ignored).
 */
export function presentedToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const [scheme, value] = authorization.trim().split(/\s+/, 2);
  if (!scheme || !value) return undefined;
  if (scheme.toLowerCase() === "bearer") return value;
  if (scheme.toLowerCase() !== "basic") return undefined;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon === -1 ? undefined : decoded.slice(colon + 1) || undefined;
}
