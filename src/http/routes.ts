/**
 * Read-only status API, as a fastify plugin: no route here changes state.
 * Errors are JSON `{ statusCode, error, message }` (fastify's format).
 */
import type { FastifyPluginAsync } from "fastify";
import type { HostRecord } from "../store/index.js";
import type { HostIndex, HostQuery } from "./host-index.js";
import { OPENAPI } from "./openapi.js";

/**
 * What the monitor knows beyond presence (checks, score, events, metrics,
 * alerts). Optional so the page works with presence alone.
 */
export interface StatusDetails {
  /** Extra fields for GET /api/hosts/:jid (checks, score, events, backups, metrics). */
  host(jid: string): Promise<Record<string, unknown>>;
  /** Recent alerts, newest first. */
  alerts(limit: number): Promise<unknown[]>;
  /** Scheduled downtimes not over yet (src/monitor/alerting). */
  downtimes?(): Promise<unknown[]>;
  /** Recent events of one host, or of the most recently seen hosts, newest first. */
  events(query: { jids: string[]; limit: number; type?: string }): Promise<unknown[]>;
}

export interface StatusRoutesOptions {
  index: HostIndex;
  details?: StatusDetails | undefined;
  /** Health of the parts the page depends on. */
  health: () => Promise<Record<string, boolean>>;
}

export interface HostView {
  jid: string;
  host: string;
  online: boolean;
  /** The derived state (docs/monitor.md, "Host status"). */
  state: HostRecord["state"];
  /** What decided the state, in words. */
  summary: string;
  /** The agent's own status text. */
  status: string;
  lastSeen: string | null;
  since: string | null;
  version: string;
  offlineReason?: string;
  checks?: number;
  failing?: number;
  score?: number;
  groups?: string[];
  /** Check modules the host runs, as name@version. */
  modules?: string[];
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);

export function hostView(record: HostRecord): HostView {
  const view: HostView = {
    jid: record.jid,
    host: record.host,
    online: record.online,
    state: record.state,
    summary: record.summary,
    status: record.status,
    lastSeen: iso(record.lastSeen),
    since: iso(record.since),
    version: record.version,
  };
  if (!record.online && record.offlineReason) view.offlineReason = record.offlineReason;
  if (record.checks !== undefined) view.checks = record.checks;
  if (record.failing !== undefined) view.failing = record.failing;
  if (record.score !== undefined) view.score = record.score;
  if (record.groups?.length) view.groups = record.groups;
  if (record.modules?.length) view.modules = record.modules;
  return view;
}

const hostsQuerySchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    state: {
      type: "string",
      pattern: "^(down|critical|warning|unknown|ok)(,(down|critical|warning|unknown|ok))*$",
    },
    q: { type: "string", maxLength: 200 },
    sort: { type: "string", enum: ["state", "host", "lastSeen"] },
    order: { type: "string", enum: ["asc", "desc"] },
    offset: { type: "integer", minimum: 0 },
    limit: { type: "integer", minimum: 1, maximum: 1000 },
  },
} as const;

interface HostsQuerystring {
  state?: string;
  q?: string;
  sort?: HostQuery["sort"];
  order?: HostQuery["order"];
  offset?: number;
  limit?: number;
}

export const statusRoutes: FastifyPluginAsync<StatusRoutesOptions> = async (app, options) => {
  const { index } = options;

  app.get<{ Querystring: HostsQuerystring }>(
    "/api/hosts",
    { schema: { querystring: hostsQuerySchema } },
    async (request, reply) => {
      const { state, q, sort, order, offset = 0, limit = 1000 } = request.query;
      const result = index.query({ states: state?.split(","), q, sort, order, offset, limit });
      // The body stays a plain array (the simplest contract); paging metadata rides in headers.
      reply.header("x-total-count", String(result.total));
      reply.header("x-offset", String(offset));
      reply.header("x-limit", String(limit));
      return result.hosts.map(hostView);
    },
  );

  app.get<{ Params: { jid: string } }>("/api/hosts/:jid", async (request, reply) => {
    const record = index.get(request.params.jid.toLowerCase());
    if (!record)
      return reply
        .code(404)
        .send({ statusCode: 404, error: "Not Found", message: `no host ${request.params.jid}` });
    return { ...hostView(record), ...(await options.details?.host(record.jid)) };
  });

  const listQuery = {
    type: "object",
    additionalProperties: false,
    properties: {
      limit: { type: "integer", minimum: 1, maximum: 1000 },
      host: { type: "string", maxLength: 3071 },
      type: { type: "string", maxLength: 40 },
    },
  } as const;

  app.get<{ Querystring: { limit?: number } }>(
    "/api/alerts",
    { schema: { querystring: listQuery } },
    async (request) => (options.details ? options.details.alerts(request.query.limit ?? 100) : []),
  );

  app.get("/api/downtimes", async () => (await options.details?.downtimes?.()) ?? []);

  app.get<{ Querystring: { limit?: number; host?: string; type?: string } }>(
    "/api/events",
    { schema: { querystring: listQuery } },
    async (request) => {
      if (!options.details) return [];
      const { limit = 100, host, type } = request.query;
      // Without a host: the 200 most recently seen hosts, which is where news is.
      const jids = host
        ? [host.toLowerCase()]
        : index.query({ sort: "lastSeen", order: "desc", limit: 200 }).hosts.map((h) => h.jid);
      return options.details.events({ jids, limit, type });
    },
  );

  app.get("/api/summary", async () => index.summary());

  app.get("/api/openapi.json", async () => OPENAPI);

  app.get("/healthz", async (_request, reply) => {
    const parts = await options.health();
    const ok = Object.values(parts).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ ok, ...parts });
  });
};
