/**
 * SASL for jabmon's clients (RFC 6120 §6): mechanism choice and SCRAM
 * (RFC 5802, RFC 7677) with channel binding (RFC 5929, RFC 9266), natively.
 *
 * Why not @xmpp/sasl with sasl-scram-sha-1: that library never checks the
 * server's signature (its final step is a TODO), so a man in the middle who
 * strips TLS needs no password to "authenticate" the server; it has no
 * SCRAM-SHA-256 and no -PLUS; and its PBKDF2 takes ~400 ms per login.
 *
 * Mechanism order: SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS (when the connection
 * has a channel binding the server supports), SCRAM-SHA-256, SCRAM-SHA-1, then
 * PLAIN over TLS only. Without TLS (only when the caller set `insecure`) PLAIN
 * is never used.
 *
 * Channel binding: ejabberd 23.01 offers -PLUS with `tls-unique` only, and
 * does not advertise its types (XEP-0440). tls-unique is defined for TLS 1.2
 * and below (RFC 9266 forbids it on TLS 1.3), so it is used there only; on
 * TLS 1.3, `tls-exporter` is used when the server lists it in XEP-0440
 * `<sasl-channel-binding/>`. Otherwise the client says "n" (no channel binding
 * on this connection), never "y": "y" would tell a server that offers -PLUS
 * that someone removed it, and it would refuse us.
 *
 * https://xmpp.org/extensions/xep-0440.html
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { promisify } from "node:util";

const pbkdf2Async = promisify(pbkdf2);

export const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
export const NS_SASL_CB = "urn:xmpp:sasl-cb:0";

export class SaslError extends Error {
  override name = "SASLError";
  constructor(
    message: string,
    /** The RFC 6120 §6.5 condition when the server sent a <failure/>. */
    readonly condition?: string,
  ) {
    super(message);
  }
}

type Hash = "sha1" | "sha256";
const HASH_BYTES: Record<Hash, number> = { sha1: 20, sha256: 32 };

export interface ChannelBinding {
  type: "tls-unique" | "tls-exporter";
  data: Buffer;
}

/**
 * The channel binding this TLS connection can offer, given the types the
 * server advertised (undefined when it did not say: ejabberd 23.01, whose
 * -PLUS is tls-unique).
 */
export function channelBindingFor(
  socket: TLSSocket,
  advertised: string[] | undefined,
): ChannelBinding | undefined {
  const protocol = socket.getProtocol();
  if (protocol === "TLSv1.3") {
    if (!advertised?.includes("tls-exporter")) return undefined;
    // RFC 9266 §2: label "EXPORTER-Channel-Binding", empty context, 32 bytes.
    return {
      type: "tls-exporter",
      data: socket.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0)),
    };
  }
  if (advertised && !advertised.includes("tls-unique")) return undefined;
  // RFC 5929 §3.1: the first Finished message of the latest handshake; for a
  // client's full handshake that is its own (a resumed one would start with
  // the server's: we never resume, but do not guess if it happened).
  if (socket.isSessionReused()) return undefined;
  const finished = socket.getFinished();
  return finished ? { type: "tls-unique", data: finished } : undefined;
}

export interface MechanismChoice {
  mechanism: string;
  hash?: Hash;
  binding?: ChannelBinding;
}

/** Pick the strongest mechanism both sides support; undefined when there is none we accept. */
export function chooseMechanism(
  offered: string[],
  secure: boolean,
  binding: ChannelBinding | undefined,
): MechanismChoice | undefined {
  const has = (m: string) => offered.includes(m);
  if (binding) {
    if (has("SCRAM-SHA-256-PLUS"))
      return { mechanism: "SCRAM-SHA-256-PLUS", hash: "sha256", binding };
    if (has("SCRAM-SHA-1-PLUS")) return { mechanism: "SCRAM-SHA-1-PLUS", hash: "sha1", binding };
  }
  if (has("SCRAM-SHA-256")) return { mechanism: "SCRAM-SHA-256", hash: "sha256" };
  if (has("SCRAM-SHA-1")) return { mechanism: "SCRAM-SHA-1", hash: "sha1" };
  if (secure && has("PLAIN")) return { mechanism: "PLAIN" };
  return undefined;
}

/** RFC 5802 saslname: "," and "=" escaped. */
function saslname(name: string): string {
  return name.replace(/=/g, "=3D").replace(/,/g, "=2C");
}

function parseAttributes(message: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq === 1) attributes.set(part[0] as string, part.slice(2));
  }
  return attributes;
}

const hmac = (hash: Hash, key: Buffer, data: string | Buffer) =>
  createHmac(hash, key).update(data).digest();

/**
 * The client's last SaltedPassword, keyed by what it was derived from. RFC
 * 5802 §5.1 lets a client keep it: it depends only on the password, salt,
 * iteration count and hash, which a server keeps per account. Deriving it is
 * the whole cost of SCRAM (4096+ PBKDF2 rounds, ~3 ms of CPU); an agent pays
 * it once, not on every reconnect, and a host running thousands of sessions
 * (the restart benchmark) does not spend tens of seconds of CPU on it after a
 * server restart. One entry: a client has one account.
 */
export class SaltedPasswordCache {
  #key = "";
  #value: Buffer | undefined;

  async derive(password: string, salt: Buffer, iterations: number, hash: Hash): Promise<Buffer> {
    const key = `${hash}:${iterations}:${salt.toString("base64")}:${createHash("sha256").update(password).digest("base64")}`;
    if (this.#value && key === this.#key) return this.#value;
    const value = await pbkdf2Async(
      Buffer.from(password, "utf8"),
      salt,
      iterations,
      HASH_BYTES[hash],
      hash,
    );
    this.#key = key;
    this.#value = value;
    return value;
  }
}

/**
 * One SCRAM exchange, client side. `first()`, then `final(serverFirst)`, then
 * `verify(serverFinal)`; each throws SaslError on anything a genuine server
 * would not send (a nonce that does not extend ours, a wrong signature).
 */
export class ScramClient {
  readonly #hash: Hash;
  readonly #username: string;
  readonly #password: string;
  readonly #gs2Header: string;
  readonly #cbData: Buffer;
  readonly #clientNonce: string;
  readonly #salted: SaltedPasswordCache;
  #clientFirstBare = "";
  #serverSignature: Buffer | undefined;

  constructor(options: {
    hash: Hash;
    username: string;
    password: string;
    binding?: ChannelBinding;
    /** For tests (RFC test vectors); random otherwise. */
    clientNonce?: string;
    /** The client's cache across exchanges; a fresh one (no reuse) by default. */
    salted?: SaltedPasswordCache;
  }) {
    this.#salted = options.salted ?? new SaltedPasswordCache();
    this.#hash = options.hash;
    this.#username = options.username;
    this.#password = options.password;
    this.#gs2Header = options.binding ? `p=${options.binding.type},,` : "n,,";
    this.#cbData = options.binding?.data ?? Buffer.alloc(0);
    this.#clientNonce = options.clientNonce ?? randomBytes(24).toString("base64");
  }

  first(): string {
    this.#clientFirstBare = `n=${saslname(this.#username)},r=${this.#clientNonce}`;
    return this.#gs2Header + this.#clientFirstBare;
  }

  async final(serverFirst: string): Promise<string> {
    const attributes = parseAttributes(serverFirst);
    if (attributes.has("e")) throw new SaslError(`server error: ${attributes.get("e")}`);
    const nonce = attributes.get("r") ?? "";
    const salt = Buffer.from(attributes.get("s") ?? "", "base64");
    const iterations = Number(attributes.get("i"));
    if (!nonce.startsWith(this.#clientNonce) || nonce.length <= this.#clientNonce.length)
      throw new SaslError("the server's nonce does not extend ours");
    if (salt.length === 0 || !Number.isInteger(iterations) || iterations < 1)
      throw new SaslError("the server sent no usable salt or iteration count");
    // A server that asks for millions of iterations could stall us; 4096 is RFC 7677's minimum.
    if (iterations > 1_000_000) throw new SaslError(`iteration count ${iterations} is too high`);
    const channel = Buffer.concat([Buffer.from(this.#gs2Header), this.#cbData]).toString("base64");
    const withoutProof = `c=${channel},r=${nonce}`;
    const salted = await this.#salted.derive(this.#password, salt, iterations, this.#hash);
    const clientKey = hmac(this.#hash, salted, "Client Key");
    const storedKey = createHash(this.#hash).update(clientKey).digest();
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(this.#hash, storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] as number)));
    this.#serverSignature = hmac(this.#hash, hmac(this.#hash, salted, "Server Key"), authMessage);
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  /** The server proves it knows the password (or its stored keys) too. */
  verify(serverFinal: string): void {
    const attributes = parseAttributes(serverFinal);
    if (attributes.has("e")) throw new SaslError(`server error: ${attributes.get("e")}`);
    const given = Buffer.from(attributes.get("v") ?? "", "base64");
    const expected = this.#serverSignature;
    if (!expected || given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new SaslError(
        "the server's SCRAM signature is wrong: not the server that holds our account",
      );
  }
}
