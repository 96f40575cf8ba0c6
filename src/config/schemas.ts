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

/** A list of bare JIDs, from YAML (a list) or an environment variable (comma-separated). */
const jidList = z
  .union([
    z.array(bareJid),
    z.string().transform((s) =>
      s
        .split(",")
        .map((j) => j.trim())
        .filter((j) => j !== ""),
    ),
  ])
  .pipe(z.array(bareJid));

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
      /** Required (this or basic) when host is not loopback. */
      token: z.string().min(16, "must be at least 16 characters").optional(),
      /** HTTP basic credentials as user:password. */
      basic: z
        .string()
        .regex(/^[^:]+:.{8,}$/, "must be user:password with a password of 8+ characters")
        .optional(),
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
      /** No presence and no data for this long marks a host down with the reason "stale". */
      staleMs: duration.default(180_000),
      /** Ingest shard lease (ms); a dead instance's shards are taken over within about 1.4x this. */
      leaseMs: duration.min(1000).max(8000).default(6000),
      /** Badness rules (YAML); empty for the packaged rules/default.yml. */
      rulesFile: z.string().default(""),
      /** Score thresholds; override the rules file's. */
      thresholds: z
        .object({ warning: z.coerce.number().optional(), critical: z.coerce.number().optional() })
        .optional(),
      /** Every host is rescored this often (time-based rules). */
      scoreIntervalMs: duration.default(60_000),
      /** Nagios-style flap detection thresholds (percent state change). */
      flap: z
        .object({
          high: z.coerce.number().min(0).max(100).default(20),
          low: z.coerce.number().min(0).max(100).default(5),
        })
        .prefault({}),
    })
    .prefault({}),
  alerts: z
    .object({
      /** JIDs that get a readable chat message for every alert. */
      adminJids: z
        .union([
          z.array(bareJid),
          z.string().transform((s) =>
            s
              .split(",")
              .map((j) => j.trim())
              .filter(Boolean),
          ),
        ])
        .default([]),
      /** MUC room (room@conference.example) the component joins and posts alerts to. */
      room: z.string().default(""),
      roomNick: z.string().min(1).default("jabmon"),
      /** HTTP(S) URL that receives every alert as JSON (BullMQ, retries with backoff). */
      webhookUrl: z.union([z.literal(""), z.url()]).default(""),
      webhookAttempts: duration.default(8),
      /** First retry delay (ms); doubles on each attempt. */
      webhookBackoffMs: duration.default(1000),
      /** An unacknowledged, unsilenced problem is re-notified this often (ms); 0 = never. */
      renotifyMs: z.coerce.number().int().min(0).default(3_600_000),
    })
    .prefault({}),
  /** XEP-0009 Jabber-RPC (docs/rpc.md). */
  rpc: z
    .object({
      /** Bare JIDs that may call every method. */
      admins: jidList.default([]),
      /** Bare JIDs that may call the read methods only. */
      viewers: jidList.default([]),
      /** A larger call (serialised) is refused with a fault. */
      maxCallBytes: duration.default(65_536),
      /** How long a request for an offline agent waits when the caller gives no expiry. */
      offlineExpiryS: duration.default(300),
      maxQueuedPerAgent: duration.default(100),
      /** How long an online agent has to answer a forwarded call. */
      agentTimeoutMs: duration.default(30_000),
      /** How often expired queued requests are answered with a fault. */
      sweepMs: duration.default(1000),
    })
    .prefault({}),
  /** The XEP-0060 pubsub service (docs/pubsub.md). */
  pubsub: z
    .object({
      /** Largest item payload accepted, in bytes of serialised XML. */
      maxPayloadBytes: duration.default(65_536),
      /** Highest pubsub#max_items a node may have (and what "max" means). */
      maxItemsLimit: duration.default(10_000),
      /** pubsub#max_items of a new node when its creator gives none. */
      defaultMaxItems: duration.default(1000),
      /** Bare JIDs treated as owners of every node (alertbots, operators). */
      admins: z
        .union([z.array(bareJid), z.string().transform((s) => s.split(",").map((d) => d.trim()))])
        .default([]),
      /** Bare JIDs that may subscribe to and read every node (alertbots); nothing more. */
      subscribers: jidList.default([]),
      /** Nodes listed by disco#items on the service without RSM; the largest RSM page of any listing. */
      maxDiscoItems: duration.default(1000),
      /** How often nodes with pubsub#item_expire are swept for aged-out items (ms). */
      sweepMs: duration.default(5000),
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
  JABMON_HTTP_TOKEN: "http.token",
  JABMON_HTTP_BASIC: "http.basic",
  JABMON_AGENT_DOMAINS: "monitor.agentDomains",
  JABMON_RPC_ADMINS: "rpc.admins",
  JABMON_RPC_VIEWERS: "rpc.viewers",
  JABMON_STALE_MS: "monitor.staleMs",
  JABMON_RULES: "monitor.rulesFile",
  JABMON_ALERT_ADMINS: "alerts.adminJids",
  JABMON_ALERT_ROOM: "alerts.room",
  JABMON_ALERT_WEBHOOK: "alerts.webhookUrl",
  JABMON_ALERT_RENOTIFY_MS: "alerts.renotifyMs",
  JABMON_PUBSUB_SUBSCRIBERS: "pubsub.subscribers",
};

// The agent's schema lives in src/agent/config.ts (valibot: light enough for the host agent).

/** `jabmon adminbot` (docs/rpc.md, "AdminBot"). */
export const adminbotSchema = z.object({
  xmpp: z
    .object({
      service: xmppService.default("xmpp://127.0.0.1:5222"),
      jid: z.string({ error: "is required: the AdminBot's own bare JID" }).pipe(bareJid),
      password: z.string({ error: "is required" }).min(1),
      resource: z.string().min(1).max(64).default("adminbot"),
      /** The jabmon component the bot sends RPC calls to; the bot's JID must be in its rpc.admins. */
      component: domain.default("monitor.localhost"),
    })
    .prefault(() => ({}) as never),
  /** MUC rooms to join, e.g. ops@conference.example.org. */
  rooms: jidList.default([]),
  nick: z.string().min(1).max(64).default("adminbot"),
  /** People who may use every command. */
  admins: jidList.default([]),
  /** People who may use the read commands only. */
  viewers: jidList.default([]),
  /** How long "run <check> on <host>" waits for an offline host. */
  runExpiryS: duration.default(600),
  callTimeoutMs: duration.default(30_000),
});
export type AdminBotConfig = z.output<typeof adminbotSchema>;

export const adminbotEnv: EnvMap = {
  JABMON_ADMINBOT_SERVICE: "xmpp.service",
  JABMON_ADMINBOT_JID: "xmpp.jid",
  JABMON_ADMINBOT_PASSWORD: "xmpp.password",
  JABMON_COMPONENT_JID: "xmpp.component",
  JABMON_ADMINBOT_ROOMS: "rooms",
  JABMON_ADMINBOT_NICK: "nick",
  JABMON_ADMINBOT_ADMINS: "admins",
  JABMON_ADMINBOT_VIEWERS: "viewers",
};
