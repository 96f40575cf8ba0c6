/**
 * Ed25519 signatures of module manifests, with Node's built-in crypto only.
 *
 * Public keys travel and sit in configs as the base64 of their raw 32 bytes
 * (RFC 8032 §5.1.5); Node imports them as SPKI DER, which for Ed25519 is a
 * fixed 12-byte prefix (RFC 8410) followed by those 32 bytes.
 * What is signed: the ASCII bytes `urn:jabmon:0:module\n` then the manifest's
 * bytes exactly as carried in the item, so no JSON canonicalisation is needed
 * and a signature cannot be replayed as a signature of anything else.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { ModuleError } from "./manifest.js";

const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
export const SIGNATURE_CONTEXT = Buffer.from("urn:jabmon:0:module\n", "ascii");
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export interface KeyPair {
  /** base64 of the raw 32-byte public key: what agents list in `trustedKeys`. */
  publicKey: string;
  /** PKCS#8 PEM: what `jabmon module sign` reads. Keep it secret. */
  privateKeyPem: string;
}

export function generateSigningKey(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return {
    publicKey: rawPublicKey(publicKey),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

function rawPublicKey(key: KeyObject): string {
  const der = key.export({ type: "spki", format: "der" });
  return der.subarray(SPKI_ED25519_PREFIX.length).toString("base64");
}

/** A base64 raw Ed25519 public key as a KeyObject; throws ModuleError when it is not one. */
export function importPublicKey(base64: string): KeyObject {
  const raw = BASE64.test(base64) ? Buffer.from(base64, "base64") : Buffer.alloc(0);
  if (raw.length !== 32)
    throw new ModuleError("key", "an Ed25519 public key is the base64 of 32 bytes");
  return createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, raw]),
    format: "der",
    type: "spki",
  });
}

export function isPublicKey(base64: string): boolean {
  try {
    importPublicKey(base64);
    return true;
  } catch {
    return false;
  }
}

export interface LoadedSigningKey {
  privateKey: KeyObject;
  publicKey: string;
}

export function loadSigningKey(pem: string): LoadedSigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new ModuleError("key", `not a private key in PEM (${(err as Error).message})`);
  }
  if (privateKey.asymmetricKeyType !== "ed25519")
    throw new ModuleError(
      "key",
      `an Ed25519 key is needed, this is ${privateKey.asymmetricKeyType}`,
    );
  return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
}

const signedBytes = (manifestBytes: Buffer) => Buffer.concat([SIGNATURE_CONTEXT, manifestBytes]);

/** The base64 Ed25519 signature of a manifest's bytes. */
export function signManifest(manifestBytes: Buffer, key: LoadedSigningKey): string {
  return sign(null, signedBytes(manifestBytes), key.privateKey).toString("base64");
}

export function verifyManifest(
  manifestBytes: Buffer,
  signature: string,
  publicKey: string,
): boolean {
  if (!BASE64.test(signature)) return false;
  const sig = Buffer.from(signature, "base64");
  if (sig.length !== 64) return false;
  return verify(null, signedBytes(manifestBytes), importPublicKey(publicKey), sig);
}
