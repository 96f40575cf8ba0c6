/**
 * An HTTP endpoint on loopback for the component's alert webhook
 * (alerts.webhookUrl): each POST's body goes to `answer`, whose return value
 * is the status code of the reply, so a test can fail some deliveries.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface Webhook {
  /** The URL to configure as alerts.webhookUrl. */
  url: string;
  close(): Promise<void>;
}

export async function startWebhook(answer: (body: string) => number): Promise<Webhook> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      res.statusCode = answer(body);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
