/**
 * The component's and the agent's configuration. Every key can come from the
 * config file; the common ones also from JABMON_* environment variables (the
 * README lists them).
 */
import { z } from "zod";
import type { EnvMap } from "./load.js";
import { weakSecretReason } from "./secrets.js";

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
/** A bare JID with optional `*` wildcards, e.g. `agent-*@example.org`. */
const agentPattern = z
  .string()
  .max(3071)
  .regex(/^[^@/\s]+@[^@/\s]+$/, "must be a bare JID pattern such as agent-*@example.org");
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

/** Bare JIDs or "@domain" entries (every account of that domain). */
const creatorList = z
  .union([
    z.array(z.string()),
    z.string().transform((s) =>
      s
        .split(",")
        .map((j) => j.trim())
        .filter((j) => j !== ""),
    ),
  ])
  .pipe(
    z.array(
      z.union([bareJid, z.string().regex(/^@[a-z0-9.-]+$/i, "must be a bare JID or @domain")]),
    ),
  );

/** `jid:sha256hex` (environment) or `{jid, sha256}` (file): a gateway caller. */
const gatewayToken = z.object({
  jid: bareJid,
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, "must be the token's SHA-256 in hex (jabmon gateway token)")
    .transform((h) => h.toLowerCase()),
});
const gatewayTokens = z
  .union([
    z.array(z.unknown()),
    z.string().transform((s) =>
      s
        .split(",")
        .map((entry) => entry.trim())
        .filter((entry) => entry !== "")
        .map((entry) => {
          const colon = entry.lastIndexOf(":");
          return { jid: entry.slice(0, colon), sha256: entry.slice(colon + 1) };
        }),
    ),
  ])
  .pipe(z.array(gatewayToken));

const isLoopback = (host: string) =>
  host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
/** A route of alerting.route (recursive): label globs, a receiver, escalation, child routes. */
interface RouteInput {
  match: Partial<Record<"kind" | "check" | "state" | "host" | "jid", string>>;
  receiver?: string | undefined;
  continue: boolean;
  escalate: Array<{ afterMs: number; receiver: string }>;
  routes: RouteInput[];
}
const routeSchema: z.ZodType<RouteInput> = z.lazy(() =>
  z.strictObject({
    match: z
      .strictObject({
        kind: z.string().optional(),
        check: z.string().optional(),
        state: z.string().optional(),
        host: z.string().optional(),
        jid: z.string().optional(),
      })
      .default({}),
    receiver: z.string().optional(),
    continue: z.boolean().default(false),
    /** Unacknowledged after afterMs (since the first notification): notify this receiver too. */
    escalate: z
      .array(z.strictObject({ afterMs: z.coerce.number().int().min(0), receiver: z.string() }))
      .default([]),
    routes: z.array(routeSchema).default([]),
  }),
) as unknown as z.ZodType<RouteInput>;

/**
 * What one `jabmon component` process runs (docs/deploy.md, "Process roles"):
 * `all` everything; `xmpp` the front (the link, pubsub, disco, RPC, presence,
 * liveness, alert dispatch, gateway) without ingest; `ingest` the ingest
 * shards and rescoring on Redis, no link; `http` the read-only status page
 * on Redis, no link.
 */
export const COMPONENT_ROLES = ["all", "xmpp", "ingest", "http"] as const;
export type ComponentRole = (typeof COMPONENT_ROLES)[number];
/** Roles that hold the XEP-0114 link (and so need the component secret). */
export const LINK_ROLES: readonly ComponentRole[] = ["all", "xmpp"];

/** The component's keys; componentSchema adds the checks across sections. */
const componentFields = z.object({
  role: z
    .enum(COMPONENT_ROLES, {
      error: (issue) =>
        issue.input === undefined
          ? "is required"
          : `must be one of ${COMPONENT_ROLES.join(", ")} (got ${JSON.stringify(issue.input)})`,
    })
    .default("all"),
  xmpp: z
    .object({
      service: xmppService.default("xmpp://127.0.0.1:5347"),
      jid: domain.default("monitor.localhost"),
      /** Required by the roles with a link (all, xmpp); the others never connect to ejabberd. */
      password: z
        .string()
        .min(1)
        .superRefine((value, ctx) => {
          const reason = weakSecretReason(value);
          if (reason) ctx.addIssue({ code: "custom", message: reason });
        })
        .optional(),
    })
    .prefault({}),
  redis: z
    .object({
      url: z
        .string()
        .regex(/^rediss?:\/\//, "must be a redis:// URL")
        .default("redis://127.0.0.1:6379"),
      prefix: z.string().max(64).default("jabmon:"),
      /** Commands kept while Redis is unreachable; past this they fail at once (bounded memory). */
      offlineQueueMax: z.coerce.number().int().min(0).default(1000),
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
      /**
       * Host header names accepted besides localhost, 127.0.0.1 and [::1] when
       * bound to loopback (a DNS-rebinding guard; docs/http.md).
       */
      allowedHosts: z
        .union([
          z.array(z.string().min(1).max(253)),
          z.string().transform((s) =>
            s
              .split(",")
              .map((h) => h.trim())
              .filter(Boolean),
          ),
        ])
        .default([]),
      /** Open live streams (/api/stream) at most; more get 503. */
      maxStreams: z.coerce.number().int().min(1).max(100_000).default(200),
      /** A live stream whose unsent data passes this many bytes is closed (a slow client). */
      streamBufferBytes: z.coerce.number().int().min(1024).default(1_048_576),
    })
    .prefault({}),
  monitor: z
    .object({
      /** Domains whose users may report as agents; presence from others is ignored. */
      agentDomains: z
        .union([z.array(domain), z.string().transform((s) => s.split(",").map((d) => d.trim()))])
        .default(["localhost"]),
      /**
       * Bare-JID patterns (`*` wildcards) of the accounts that are agents;
       * empty: every user of agentDomains (docs/security.md, "Who counts as an agent").
       */
      agents: z
        .union([
          z.array(z.string()),
          z.string().transform((s) =>
            s
              .split(",")
              .map((p) => p.trim())
              .filter((p) => p !== ""),
          ),
        ])
        .pipe(z.array(agentPattern))
        .default([]),
      /** After the component reconnects, agents that do not answer within this are marked offline. */
      presenceConfirmMs: duration.default(10_000),
      /** Largest `<x xmlns="urn:jabmon:0"/>` payload accepted in presence, in bytes. */
      maxPresencePayloadBytes: duration.default(4096),
      /** No presence and no data for this long marks a host down with the reason "stale". */
      staleMs: duration.default(180_000),
      /** Plane events and the reconnect grace (docs/monitor.md). */
      plane: z
        .object({
          /** Host-down alerts held this long after a plane incident (2x the agents' 30 s max reconnect delay). */
          graceMs: duration.default(60_000),
          /** More than this percentage of hosts down within massWindowMs is a plane event. */
          massPercent: z.coerce.number().gt(0).max(100).default(20),
          massWindowMs: duration.min(1000).default(10_000),
          /** No mass detection below this many known hosts (two of five down is not a plane fault). */
          massMinHosts: z.coerce.number().int().min(1).default(10),
          redisPingMs: duration.min(100).default(1000),
          /** A down whose parent is online counts in a wave only this old (at most massWindowMs / 2). */
          parentWaitMs: duration.default(5000),
        })
        .prefault({}),
      /** Ingest shard lease (ms); a dead instance's shards are taken over within about 1.4x this. */
      leaseMs: duration.min(1000).max(8000).default(3000),
      /** Badness rules (YAML); empty for the packaged rules/default.yml. */
      rulesFile: z.string().default(""),
      /** Score thresholds; override the rules file's. */
      thresholds: z
        .object({ warning: z.coerce.number().optional(), critical: z.coerce.number().optional() })
        .optional(),
      /** Every host is rescored this often (time-based rules). */
      scoreIntervalMs: duration.default(60_000),
      /**
       * Consecutive bad results before a check's state is hard and alerts
       * (soft/hard, docs/monitor.md); a check's `jabmon.attempts` label overrides.
       */
      checkAttempts: z.coerce.number().int().min(1).max(100).default(1),
      /** Nagios-style flap detection thresholds (percent state change). */
      flap: z
        .object({
          high: z.coerce.number().min(0).max(100).default(20),
          low: z.coerce.number().min(0).max(100).default(5),
        })
        .prefault({}),
      /** Bounds on what agents can make Redis hold (docs/monitor.md, "Bounded storage"). */
      limits: z
        .object({
          maxChecksPerHost: duration.default(500),
          maxSeriesPerHost: duration.default(2000),
          maxMetricsPerResult: duration.default(100),
          maxBackupJobsPerHost: duration.default(100),
          maxNameLength: duration.default(200),
          maxClockAheadMs: duration.default(300_000),
        })
        .prefault({}),
    })
    .superRefine((monitor, ctx) => {
      // A pattern outside the agent domains would never match: say so at start.
      const domains = new Set(monitor.agentDomains.map((d) => d.toLowerCase()));
      monitor.agents.forEach((pattern, i) => {
        const domain = pattern.slice(pattern.indexOf("@") + 1).toLowerCase();
        if (!domain.includes("*") && !domains.has(domain))
          ctx.addIssue({
            code: "custom",
            path: ["agents", i],
            message: `${pattern} is not in an agent domain (monitor.agentDomains)`,
          });
      });
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
      /** First webhook retry delay (ms); doubles on each attempt up to webhookMaxBackoffMs. */
      webhookBackoffMs: duration.default(1000),
      webhookMaxBackoffMs: duration.default(300_000),
      /** Webhook retries go on this long (ms), then the alert is dead-lettered. */
      webhookRetryForMs: duration.default(86_400_000),
      /** XMPP alerts the link could not carry: first retry delay, cap, give-up time (ms). */
      retryBackoffMs: duration.default(1000),
      retryMaxBackoffMs: duration.default(60_000),
      retryForMs: duration.default(86_400_000),
      /** An unacknowledged, unsilenced problem is re-notified this often (ms); 0 = never. */
      renotifyMs: z.coerce.number().int().min(0).default(3_600_000),
    })
    .prefault({}),
  /** Alerting for large fleets (docs/monitor.md): grouping, dependencies, downtime, storm control. */
  alerting: z
    .object({
      group: z
        .object({
          /** Labels whose values together name a group. */
          by: z
            .array(z.enum(["kind", "check", "state", "host", "jid"]))
            .default(["kind", "check", "state"]),
          /** The first alert of a new group waits this long for others (ms); 0 = one message per alert, at once. */
          waitMs: z.coerce.number().int().min(0).max(3_600_000).default(0),
          /** A group's later alerts wait at least this long after it was sent (ms). */
          intervalMs: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
          /** Hosts named in a grouped message; the rest are counted. */
          listMax: z.coerce.number().int().min(1).max(1000).default(10),
        })
        .prefault({}),
      dependencies: z
        .object({
          /** Alerts of hosts with parents wait this long, so a parent's failure is seen first (ms). */
          holdMs: z.coerce.number().int().min(0).max(600_000).default(5000),
          /** Children still bad this long after their parent recovered alert on their own (ms). */
          recoveryGraceMs: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
          /** Parents by rule: hosts matching the glob depend on these hosts. */
          rules: z
            .array(
              z.strictObject({
                hosts: z.string().min(1, "must be a host glob such as web-r12-*"),
                parents: z
                  .array(z.string().regex(/^[A-Za-z0-9._@-]{1,253}$/, "must be host names or JIDs"))
                  .min(1),
              }),
            )
            .default([]),
        })
        .prefault({}),
      /** Hosts known to flap: their "host down" waits graceMs, and is not sent if they are back by then. */
      hostDownGrace: z
        .array(
          z.strictObject({
            hosts: z.string().min(1, "must be a host glob"),
            graceMs: z.coerce.number().int().min(0).max(3_600_000),
          }),
        )
        .default([]),
      /** Messages per minute at most; the rest become one summary. 0 = no limit. */
      rateLimitPerMinute: z.coerce.number().int().min(0).default(0),
      /** A problem matching `source` suppresses alerts matching `target` on the same host (or `equal` labels). */
      inhibit: z
        .array(
          z.strictObject({
            source: z.strictObject({
              kind: z.string().optional(),
              check: z.string().optional(),
              state: z.string().optional(),
            }),
            target: z.strictObject({
              kind: z.string().optional(),
              check: z.string().optional(),
              state: z.string().optional(),
            }),
            equal: z.array(z.enum(["kind", "check", "state", "host", "jid"])).default([]),
          }),
        )
        .default([]),
      /** How often groups, downtime ends and parents' recoveries are looked at (ms). */
      tickMs: z.coerce.number().int().min(50).max(60_000).default(1000),
      /** Named receivers; with none, every message goes to the `alerts` section's sinks. */
      receivers: z
        .array(
          z.strictObject({
            name: z.string().regex(/^[\w.-]{1,64}$/, "must be 1-64 letters, digits, _ . -"),
            jids: z.array(bareJid).default([]),
            rooms: z.array(bareJid).default([]),
            alertsNode: z.boolean().default(false),
            webhooks: z.array(z.url()).default([]),
          }),
        )
        .default([]),
      /** The routing tree; its root's receiver is the default. Required with receivers. */
      route: routeSchema.optional(),
    })
    .prefault({})
    .superRefine((a, ctx) => {
      // References are checked at start, each error naming the key that is wrong.
      const names = new Set<string>();
      a.receivers.forEach((r, i) => {
        if (names.has(r.name))
          ctx.addIssue({
            code: "custom",
            path: ["receivers", i, "name"],
            message: `receiver '${r.name}' is defined twice`,
          });
        names.add(r.name);
      });
      if (a.receivers.length > 0 && !a.route)
        ctx.addIssue({
          code: "custom",
          path: ["route"],
          message: "is required when receivers are defined",
        });
      if (a.route && !a.route.receiver)
        ctx.addIssue({
          code: "custom",
          path: ["route", "receiver"],
          message: "the root route needs a receiver (the default)",
        });
      const walk = (route: RouteInput, path: Array<string | number>) => {
        if (route.receiver !== undefined && !names.has(route.receiver))
          ctx.addIssue({
            code: "custom",
            path: [...path, "receiver"],
            message: `no receiver named '${route.receiver}' in alerting.receivers`,
          });
        route.escalate.forEach((step, i) => {
          if (!names.has(step.receiver))
            ctx.addIssue({
              code: "custom",
              path: [...path, "escalate", i, "receiver"],
              message: `no receiver named '${step.receiver}' in alerting.receivers`,
            });
          const previous = route.escalate[i - 1];
          if (previous && step.afterMs <= previous.afterMs)
            ctx.addIssue({
              code: "custom",
              path: [...path, "escalate", i, "afterMs"],
              message: "must be later than the step before",
            });
        });
        route.routes.forEach((child, i) => {
          walk(child, [...path, "routes", i]);
        });
      };
      if (a.route) walk(a.route, ["route"]);
    }),
  /** XEP-0009 Jabber-RPC (docs/rpc.md). */
  rpc: z
    .object({
      /** Bare JIDs that may call every method. */
      admins: jidList.default([]),
      /** Bare JIDs that may call the read methods only. */
      viewers: jidList.default([]),
      /** A larger call (serialised) is refused with a fault. */
      maxCallBytes: duration.default(65_536),
      /**
       * Largest answer, in bytes of serialised XML (the whole IQ): list methods
       * cut their pages to it, anything larger is fault -32008. Well under
       * ejabberd's component max_stanza_size (1 MiB), which closes the stream.
       */
      maxReplyBytes: duration.min(16_384).max(786_432).default(262_144),
      /** How long a request for an offline agent waits when the caller gives no expiry. */
      offlineExpiryS: duration.default(300),
      maxQueuedPerAgent: duration.default(100),
      /** Calls one bare JID may have waiting for an answer at once; more get fault -32007. */
      maxPendingPerCaller: duration.min(1).default(20),
      /** How long an online agent has to answer a forwarded call. */
      agentTimeoutMs: duration.default(30_000),
      /** How often expired queued requests are answered with a fault. */
      sweepMs: duration.default(1000),
    })
    .prefault({}),
  /** The HTTP gateway to Jabber-RPC (docs/gateway.md); off unless enabled. */
  gateway: z
    .object({
      enabled: flag.default(false),
      host: z.string().min(1).default("127.0.0.1"),
      // 0 picks a free port (tests).
      port: z.coerce.number().int().min(0).max(65535).default(8090),
      /** Callers: a token (by its SHA-256) and the bare JID it acts as; the RPC ACL applies to that JID. */
      tokens: gatewayTokens.default([]),
      /** PEM files; required when host is not loopback (tokens never cross a network in clear). */
      tlsCert: z.string().default(""),
      tlsKey: z.string().default(""),
      /** A larger request body is refused with HTTP 413. */
      maxBodyBytes: duration.default(65_536),
      /** Calls per second per token (the burst allowance is the same number); over it, HTTP 429. */
      callsPerSecond: duration.default(10),
      /** Calls being answered at once, all tokens together; over it, HTTP 503. */
      maxInFlight: duration.default(32),
      /** The longest an HTTP caller waits for an answer (a queued agent call included). */
      callTimeoutMs: duration.default(330_000),
    })
    .prefault({})
    .superRefine((gateway, ctx) => {
      if (!gateway.enabled) return;
      if (gateway.tokens.length === 0)
        ctx.addIssue({
          code: "custom",
          path: ["tokens"],
          message: "at least one token is required when the gateway is enabled",
        });
      if ((gateway.tlsCert === "") !== (gateway.tlsKey === ""))
        ctx.addIssue({
          code: "custom",
          path: [gateway.tlsCert ? "tlsKey" : "tlsCert"],
          message: "tlsCert and tlsKey go together",
        });
      if (!isLoopback(gateway.host) && gateway.tlsCert === "")
        ctx.addIssue({
          code: "custom",
          path: ["host"],
          message: `${gateway.host} is not loopback: set tlsCert and tlsKey (tokens must not cross a network in clear)`,
        });
    }),
  /** The `hosts` pubsub node: every host's state as one item, for live XMPP viewers (docs/gateway.md). */
  live: z
    .object({
      enabled: flag.default(true),
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
      /** Entries in a listing without RSM (disco#items, subscriptions, affiliations); the largest RSM page. */
      maxDiscoItems: duration.default(1000),
      /** How often nodes with pubsub#item_expire are swept for aged-out items (ms). */
      sweepMs: duration.default(5000),
      /**
       * Largest reply of the pubsub service and disco, in bytes of serialised XML
       * (the whole IQ): a longer listing or retrieval is cut and carries an RSM
       * <set/> to continue. Well under ejabberd's component max_stanza_size (1 MiB).
       */
      maxReplyBytes: duration.min(16_384).max(786_432).default(262_144),
      /**
       * Who may create nodes other than their own agents/<bare JID> node (admins
       * always may): bare JIDs, or "@domain" for every account of a domain.
       */
      creators: creatorList.default([]),
      /** Nodes one bare JID may create (agents/<jid> not counted); admins are not limited. */
      maxNodesPerJid: duration.default(20),
      /** Subscriptions of one bare JID, all resources and nodes together (admins and subscribers are not limited). */
      maxSubscriptionsPerJid: duration.default(100),
      /** Subscriptions (subscribed or pending) on one node: bounds a publish's fan-out. */
      maxSubscribersPerNode: duration.default(1000),
      /**
       * Items the nodes one bare JID owns may store together: an agent's node
       * keeps pubsub#max_items (defaultMaxItems), so a normal agent stays far
       * below. Admins and the component are not limited (docs/security.md).
       */
      maxItemsPerJid: duration.default(20_000),
      /** Bytes (item ids and records) the nodes one bare JID owns may store together. */
      maxBytesPerJid: duration.default(64 * 1024 * 1024),
      /** Publishes stored at once; more get a `wait` resource-constraint (back-pressure). */
      maxPublishesInFlight: duration.default(2000),
      /**
       * Results waiting for the monitor above which agents' publishes are told
       * to wait (back-pressure on the monitor's backlog); 0: no limit.
       */
      maxIngestBacklog: z.coerce.number().int().min(0).default(30_000),
    })
    .prefault({})
    .superRefine((p, ctx) => {
      // A single item must fit in a reply, with room for the IQ and RSM envelope.
      if (p.maxPayloadBytes + 8192 > p.maxReplyBytes)
        ctx.addIssue({
          code: "custom",
          path: ["maxReplyBytes"],
          message: `must be at least pubsub.maxPayloadBytes + 8192 (${p.maxPayloadBytes + 8192}): one item must fit in a reply`,
        });
      // Likewise one item of the largest payload (and its record's header) must fit the quota.
      if (p.maxPayloadBytes + 4096 > p.maxBytesPerJid)
        ctx.addIssue({
          code: "custom",
          path: ["maxBytesPerJid"],
          message: `must be at least pubsub.maxPayloadBytes + 4096 (${p.maxPayloadBytes + 4096}): one item must fit in the quota`,
        });
    }),
  /** Signed check modules (docs/modules.md). */
  modules: z
    .object({
      /** Bare JIDs that may publish to modules/<name> nodes; everyone else gets forbidden. */
      publishers: jidList.default([]),
      /** When set, the component refuses modules not signed by one of these base64 Ed25519 keys. */
      trustedKeys: z
        .union([
          z.array(z.string().regex(/^[A-Za-z0-9+/]{43}=$/, "must be a base64 Ed25519 public key")),
          z.string().transform((s) =>
            s
              .split(",")
              .map((k) => k.trim())
              .filter(Boolean),
          ),
        ])
        .default([]),
      /** Audit entries kept in Redis, newest first. */
      auditLength: duration.default(10_000),
    })
    .prefault({}),
});

export const componentSchema = componentFields.superRefine((config, ctx) => {
  if (LINK_ROLES.includes(config.role) && config.xmpp.password === undefined)
    ctx.addIssue({
      code: "custom",
      path: ["xmpp", "password"],
      message: `is required: the component secret shared with ejabberd (role ${config.role} connects to it)`,
    });
  if (config.role === "http" && !config.http.enabled)
    ctx.addIssue({
      code: "custom",
      path: ["http", "enabled"],
      message: "must be true for role http (the status page is all it runs)",
    });
});
export type ComponentConfig = z.output<typeof componentSchema>;

export const componentEnv: EnvMap = {
  JABMON_ROLE: "role",
  JABMON_COMPONENT_SERVICE: "xmpp.service",
  JABMON_COMPONENT_JID: "xmpp.jid",
  JABMON_COMPONENT_PASSWORD: "xmpp.password",
  JABMON_REDIS_URL: "redis.url",
  JABMON_REDIS_PREFIX: "redis.prefix",
  JABMON_HTTP_ENABLED: "http.enabled",
  JABMON_HTTP_HOST: "http.host",
  JABMON_HTTP_PORT: "http.port",
  JABMON_HTTP_TOKEN: "http.token",
  JABMON_HTTP_BASIC: "http.basic",
  JABMON_HTTP_ALLOWED_HOSTS: "http.allowedHosts",
  JABMON_HTTP_MAX_STREAMS: "http.maxStreams",
  JABMON_AGENT_DOMAINS: "monitor.agentDomains",
  JABMON_AGENTS: "monitor.agents",
  JABMON_RPC_ADMINS: "rpc.admins",
  JABMON_RPC_VIEWERS: "rpc.viewers",
  JABMON_STALE_MS: "monitor.staleMs",
  JABMON_PRESENCE_CONFIRM_MS: "monitor.presenceConfirmMs",
  JABMON_PLANE_GRACE_MS: "monitor.plane.graceMs",
  JABMON_PLANE_MASS_PERCENT: "monitor.plane.massPercent",
  JABMON_PLANE_MASS_WINDOW_MS: "monitor.plane.massWindowMs",
  JABMON_RULES: "monitor.rulesFile",
  JABMON_ALERT_ADMINS: "alerts.adminJids",
  JABMON_ALERT_ROOM: "alerts.room",
  JABMON_ALERT_WEBHOOK: "alerts.webhookUrl",
  JABMON_ALERT_RENOTIFY_MS: "alerts.renotifyMs",
  JABMON_PUBSUB_SUBSCRIBERS: "pubsub.subscribers",
  JABMON_PUBSUB_CREATORS: "pubsub.creators",
  JABMON_PUBSUB_MAX_PUBLISHES_IN_FLIGHT: "pubsub.maxPublishesInFlight",
  JABMON_PUBSUB_MAX_INGEST_BACKLOG: "pubsub.maxIngestBacklog",
  JABMON_GATEWAY_ENABLED: "gateway.enabled",
  JABMON_GATEWAY_HOST: "gateway.host",
  JABMON_GATEWAY_PORT: "gateway.port",
  JABMON_GATEWAY_TOKENS: "gateway.tokens",
  JABMON_LIVE_ENABLED: "live.enabled",
  JABMON_MODULE_PUBLISHERS: "modules.publishers",
  JABMON_MODULE_TRUSTED_KEYS: "modules.trustedKeys",
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
      /** PEM CA certificates trusted besides Node's store (a self-signed ejabberd's certificate). */
      caFile: z.string().min(1).optional(),
      /** Allow login over plain TCP when the server offers no STARTTLS: loopback tests only. */
      insecure: flag.default(false),
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
  JABMON_ADMINBOT_CA_FILE: "xmpp.caFile",
  JABMON_ADMINBOT_INSECURE: "xmpp.insecure",
  JABMON_COMPONENT_JID: "xmpp.component",
  JABMON_ADMINBOT_ROOMS: "rooms",
  JABMON_ADMINBOT_NICK: "nick",
  JABMON_ADMINBOT_ADMINS: "admins",
  JABMON_ADMINBOT_VIEWERS: "viewers",
};
