/**
 * vitest globalSetup: one self-signed certificate per test run, shared by
 * every test file's private ejabberd (each copies it into its own directory,
 * readable by the ejabberd user) and trusted by the tests' clients as their
 * CA file. Tests thereby run the secure default: STARTTLS required, the
 * certificate verified.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { generateSelfSignedCert, type TlsFiles } from "../../src/stack/index.js";

declare module "vitest" {
  export interface ProvidedContext {
    jabmonTls: TlsFiles;
  }
}

let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), "jabmon-test-tls-"));
  project.provide(
    "jabmonTls",
    // Node checks no wildcard under a one-label name (*.localhost): the test
    // stacks' extra virtual hosts are named explicitly.
    await generateSelfSignedCert(dir, [
      "localhost",
      "*.localhost",
      "other.localhost",
      "anon.localhost",
      "127.0.0.1",
    ]),
  );
}

export async function teardown(): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}
