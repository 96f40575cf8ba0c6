/**
 * The component's and the agent's configuration. Every key can come from the
 * config file; the common ones also from JABMON_* environment variables (the
 * README lists them).
 */
import { z } from "zod";
import type { EnvMap } from "./load.js";

const xmppService = z.string().regex(/^xmpps?:\/\/[^/\s]+:\d+$/, "must look like xmpp://HOST:PORT");
const domain = z
  .string()
  .min(1)
  .max(1023)
  .regex(/^[a-z0-9.-]+$/i, "must be a domain name such as monitor.localhost");
const bareJid = z
  .string()
  .regex(/^[^@/\s]+@[^@/\s]+$/, "must be a bare JID such as agent1@localhost");
const duration = z.coerce.number().int().positive();
const flag = z.union([
  z.boolean(),
  z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1"),
]);

export const componentSchema = z.object({
  xmpp: z
    .object({
      service: xmppService.default("xmpp://127.0.0.1:5347"),
      jid: domain.default("monitor.localhost"),
      password: z
        .string({ error: "is required: the component secret shared with ejabberd" })
        .min(1),
    })
    .prefault(() => ({}) as never),
  redis: z
    .object({
      url: z
        .string()
        .regex(/^rediss?:\/\//, "must be a redis:// URL")
        .default("redis://127.0.0.1:6379"),
      prefix: z.string().max(64).default("jabmon:"),
    })
    .prefault({}),
  http: z
    .object({
      host: z.string().min(1).default("127.0.0.1"),
      // 0 picks a free port (tests).
      port: z.coerce.number().int().min(0).max(65535).default(8080),
      enabled: flag.default(true),
    })
    .prefault({}),
  monitor: z
    .object({
      /** Domains whose users may report as agents; presence from others is ignored. */
      agentDomains: z
        .union([z.array(domain), z.string().transform((s) => s.split(",").map((d) => d.trim()))])
        .default(["localhost"]),
      /** After the component reconnects, agents that do not answer within this are marked offline. */
      presenceConfirmMs: duration.default(10_000),
      /** Largest `<x xmlns="urn:jabmon:0"/>` payload accepted in presence, in bytes. */
      maxPresencePayloadBytes: duration.default(4096),
    })
    .prefault({}),
});
export type ComponentConfig = z.output<typeof componentSchema>;

export const componentEnv: EnvMap = {
  JABMON_COMPONENT_SERVICE: "xmpp.service",
  JABMON_COMPONENT_JID: "xmpp.jid",
  JABMON_COMPONENT_PASSWORD: "xmpp.password",
  JABMON_REDIS_URL: "redis.url",
  JABMON_REDIS_PREFIX: "redis.prefix",
  JABMON_HTTP_HOST: "http.host",
  JABMON_HTTP_PORT: "http.port",
  JABMON_AGENT_DOMAINS: "monitor.agentDomains",
};

// The agent's schema lives in src/agent/config.ts (valibot: light enough for the host agent).
