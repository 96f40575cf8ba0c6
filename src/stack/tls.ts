/**
 * A self-signed certificate for a private ejabberd (the demo, the tests), so
 * that even loopback stacks run the secure default: STARTTLS required and the
 * server certificate verified by the client against a CA file. openssl (in
 * Debian's base system) makes it; Node's crypto can make keys but not X.509
 * certificates. Arguments go by argv, never through a shell.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TlsFiles {
  /** The certificate alone: what clients trust (JABMON_AGENT_CA_FILE). */
  certFile: string;
  /** The private key alone. */
  keyFile: string;
}

/**
 * Write key.pem and cert.pem into `dir` for these host names (the first is the
 * subject; all go into subjectAltName, which is what TLS clients check).
 * ECDSA P-256: generated in milliseconds, accepted by ejabberd's fast_tls.
 */
export async function generateSelfSignedCert(
  dir: string,
  hostnames: string[],
  days = 825,
): Promise<TlsFiles> {
  const keyFile = join(dir, "key.pem");
  const certFile = join(dir, "cert.pem");
  const san = hostnames.map((h) => (/^[\d.]+$/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
  await run(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      String(days),
      "-subj",
      `/CN=${hostnames[0] ?? "localhost"}`,
      "-addext",
      `subjectAltName=${san}`,
    ],
    { timeout: 30_000 },
  ).catch((err: Error & { stderr?: string }) => {
    throw new Error(`openssl could not make a certificate: ${(err.stderr || err.message).trim()}`);
  });
  return { certFile, keyFile };
}

/** ejabberd's certfiles entry: key and certificate in one PEM, written with mode 0600. */
export async function writeCombinedPem(files: TlsFiles, target: string): Promise<void> {
  const [key, cert] = await Promise.all([readFile(files.keyFile), readFile(files.certFile)]);
  await writeFile(target, Buffer.concat([key, Buffer.from("\n"), cert]), { mode: 0o600 });
}
