/**
 * Ports for private servers: a free one to listen on (tests, benchmarks), and
 * a clear refusal when one we must use (the demo's) is taken.
 */
import { createServer } from "node:net";
import { StackError } from "./ejabberd.js";

/** A port free on 127.0.0.1 right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** Fail early, and say what to do, when a port we are about to listen on is taken. */
export async function assertPortFree(
  port: number,
  what: string,
  variable: string,
  hint = "",
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new StackError(
          `port ${port} (${what}) is in use${err.code === "EADDRINUSE" ? "" : ` (${err.code})`}: stop what listens there${hint} ` +
            `or choose another port with ${variable}`,
        ),
      ),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}
