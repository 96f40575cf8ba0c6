/**
 * Native SCRAM for every jabmon XMPP client. SCRAM-SHA-1's salted password
 * is PBKDF2 with 4096 iterations. The
 * `sasl-scram-sha-1` package computes it as 4096 sequential WebCrypto HMAC
 * calls, each importing the key again: about 400 ms per login here. Node's
 * native PBKDF2 gives the identical result (RFC 5802 `Hi` is PBKDF2 with
 * HMAC-SHA-1 and one block) in about a millisecond, which matters when a fleet
 * reconnects after a server restart.
 */
import { pbkdf2 } from "node:crypto";
import { createRequire } from "node:module";
import { promisify } from "node:util";

const pbkdf2Async = promisify(pbkdf2);

type HiFunction = (text: string, salt: Uint8Array, iterations: number) => Promise<Uint8Array>;

/** RFC 5802 Hi(), natively. Exported for the equivalence test. */
export const nativeHi: HiFunction = async (text, salt, iterations) =>
  new Uint8Array(await pbkdf2Async(Buffer.from(text, "utf8"), salt, iterations, 20, "sha1"));

let patched = false;

/** Replace the SCRAM library's Hi() (looked up on its exports at each call) with nativeHi. */
export function useNativeScram(): void {
  if (patched) return;
  const bitops = createRequire(import.meta.url)("sasl-scram-sha-1/lib/bitops.js") as {
    Hi: HiFunction;
  };
  bitops.Hi = nativeHi;
  patched = true;
}
