/**
 * IQ answers between the component processes of one JID, over Redis pub/sub
 * (docs/deploy.md, "Scale-out"). ejabberd gives each stanza for the
 * component's JID to any of its connections, so an agent's answer to an RPC
 * call one process sent may reach another. Each process subscribes to its
 * own channel; a process holding an answer for another instance's request (the
 * prefix of the IQ id names it) publishes the stanza there. A relayed answer
 * is checked exactly as a direct one (id and sender).
 */
import type { ComponentLink } from "../component/index.js";
import type { Logger } from "../log/index.js";
import type { Keys, Redis } from "../store/index.js";
import { type Element, ltx } from "../xmpp/index.js";

export interface AnswerRelayHandle {
  stop(): void;
}

export async function startAnswerRelay(
  link: ComponentLink,
  redis: Redis,
  keys: Keys,
  log: Logger,
): Promise<AnswerRelayHandle> {
  const subscriber = redis.duplicate();
  // duplicate() copies no listeners: without one, ioredis prints every failed
  // reconnect of an outage to stderr ("Unhandled error event").
  subscriber.on("error", (err: Error) => log.debug({ err: err.message }, "redis error (answers)"));
  const channel = keys.iqAnswers(link.instanceId);
  subscriber.on("message", (_channel: string, xml: string) => {
    try {
      link.acceptRelayedAnswer(ltx.parse(xml) as Element);
    } catch (err) {
      log.warn({ err: (err as Error).message }, "unreadable relayed IQ answer");
    }
  });
  await subscriber.subscribe(channel);
  link.relayAnswersThrough({
    forward(instanceId, answer) {
      redis.publish(keys.iqAnswers(instanceId), answer.toString()).catch((err: Error) => {
        log.warn({ instanceId, err: err.message }, "cannot relay an IQ answer");
      });
    },
  });
  return {
    stop() {
      subscriber.disconnect();
    },
  };
}
