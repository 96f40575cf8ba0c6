/**
 * Headless Debian Chromium driven by playwright-core (no browser download).
 * Flags: no sandbox as root; no background networking, which this machine's
 * closed network would refuse many times over.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";

export const ARTIFACTS = join(import.meta.dirname, "..", "..", "test-artifacts");

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
