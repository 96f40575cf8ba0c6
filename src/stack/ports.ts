/**
 * Ports for private servers: a free one to listen on (tests, benchmarks), and
 * a clear refusal when one we must use (the demo's) is taken.
 */
import { createServer } from "node:net";
import { StackError } from "./ejabberd.js";

/**
 * Ports for private servers come from below the kernel's ephemeral range
 * (32768-60999 on Linux). A port the kernel hands out for `listen(0)` lies in
 * that range, and between our probe and ejabberd's bind any outgoing
 * connection on the machine can take it (seen in CI as eaddrinuse); ports
 * under it are never picked for outgoing connections.
 */
const PRIVATE_PORT_MIN = 20_000;
const PRIVATE_PORT_MAX = 32_767;

/** Whether 127.0.0.1:port can be listened on right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Ports this process has handed out: nothing listens on them yet, so a probe cannot tell. */
const handedOut = new Set<number>();

/** A port free on 127.0.0.1 right now, outside the ephemeral range, never the same one twice. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port =
      PRIVATE_PORT_MIN + Math.floor(Math.random() * (PRIVATE_PORT_MAX - PRIVATE_PORT_MIN + 1));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${PRIVATE_PORT_MIN} and ${PRIVATE_PORT_MAX}`);
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
