/**
 * Talking to a running agent through its local socket as shell scripts do
 * (`jabmon send`): one JSON request per line, one JSON answer per line.
 */
import { once } from "node:events";
import { connect } from "node:net";
import { expect } from "vitest";
import { sleep } from "./wait.js";

/** Send `send` requests n=from..to through the socket, one after the other; resolves with the seqs. */
export async function sendRange(
  socketPath: string,
  from: number,
  to: number,
  gapMs = 0,
): Promise<number[]> {
  const s = connect(socketPath);
  await once(s, "connect");
  s.setEncoding("utf8");
  const seqs: number[] = [];
  let buffer = "";
  const replies: Array<(line: string) => void> = [];
  s.on("data", (d: string) => {
    buffer += d;
    let nl = buffer.indexOf("\n");
    while (nl >= 0) {
      replies.shift()?.(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf("\n");
    }
  });
  for (let n = from; n <= to; n++) {
    const reply = new Promise<string>((resolve) => replies.push(resolve));
    s.write(`${JSON.stringify({ op: "send", text: `n=${n}` })}\n`);
    const answer = JSON.parse(await reply) as { ok: boolean; seq: number };
    expect(answer.ok).toBe(true);
    seqs.push(answer.seq);
    if (gapMs) await sleep(gapMs);
  }
  s.destroy();
  return seqs;
}

/** Wait until the agent's socket answers (it records one probe event, n=0). */
export async function socketUp(path: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await sendRange(path, 0, 0);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`socket ${path} never came up`);
}
