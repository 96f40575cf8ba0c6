/** OpenAPI 3.1 description of the read-only status API, served at /api/openapi.json. */
const host = {
  type: "object",
  required: ["jid", "host", "online", "state", "summary", "status", "lastSeen"],
  properties: {
    jid: { type: "string", description: "the agent's bare JID" },
    host: { type: "string" },
    online: { type: "boolean" },
    state: {
      type: "string",
      enum: ["down", "critical", "warning", "unknown", "ok"],
      description:
        "the derived state: down if offline, else the worst of its checks, its score's state and its agent's state",
    },
    summary: { type: "string", description: "what decided the state, in words" },
    status: { type: "string", description: "the agent's status text" },
    lastSeen: { type: ["string", "null"], format: "date-time" },
    since: {
      type: ["string", "null"],
      format: "date-time",
      description: "when online/offline last changed",
    },
    version: { type: "string" },
    offlineReason: { type: "string" },
    checks: { type: "integer" },
    failing: { type: "integer" },
    score: { type: "number", description: "badness score (sum of matching rules' weights)" },
    groups: { type: "array", items: { type: "string" }, description: "the agent's groups" },
    modules: {
      type: "array",
      items: { type: "string" },
      description: "check modules the host runs, as name@version",
    },
  },
};
const error = {
  type: "object",
  properties: {
    statusCode: { type: "integer" },
    error: { type: "string" },
    message: { type: "string" },
  },
};

export const OPENAPI = {
  openapi: "3.1.0",
  info: {
    title: "jabmon status API",
    version: "0",
    description: "Read-only. No endpoint changes state.",
  },
  paths: {
    "/api/hosts": {
      get: {
        summary: "Hosts, filtered, sorted and paged",
        parameters: [
          {
            name: "state",
            in: "query",
            schema: { type: "string" },
            description: "comma-separated states, e.g. down,critical",
          },
          {
            name: "q",
            in: "query",
            schema: { type: "string" },
            description: "substring of host, JID or status",
          },
          {
            name: "sort",
            in: "query",
            schema: { type: "string", enum: ["state", "host", "lastSeen"] },
          },
          { name: "order", in: "query", schema: { type: "string", enum: ["asc", "desc"] } },
          { name: "offset", in: "query", schema: { type: "integer", minimum: 0 } },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000 } },
        ],
        responses: {
          200: {
            description: "hosts; X-Total-Count holds the number matching before paging",
            headers: { "X-Total-Count": { schema: { type: "integer" } } },
            content: { "application/json": { schema: { type: "array", items: host } } },
          },
          400: { description: "bad query", content: { "application/json": { schema: error } } },
        },
      },
    },
    "/api/hosts/{jid}": {
      get: {
        summary:
          "One host, with its checks, score breakdown (rules and weights), recent events, backups and metric series",
        parameters: [{ name: "jid", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          200: { description: "the host", content: { "application/json": { schema: host } } },
          404: { description: "unknown host", content: { "application/json": { schema: error } } },
        },
      },
    },
    "/api/downtimes": {
      get: {
        summary: "Scheduled downtimes not over yet (active and to come)",
        responses: {
          200: {
            description: "downtimes",
            content: { "application/json": { schema: { type: "array" } } },
          },
        },
      },
    },
    "/api/alerts": {
      get: {
        summary: "Recent alerts, newest first",
        parameters: [
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000 } },
        ],
        responses: {
          200: {
            description: "alerts",
            content: { "application/json": { schema: { type: "array" } } },
          },
        },
      },
    },
    "/api/events": {
      get: {
        summary: "Recent log, file-change, message and backup events, newest first",
        parameters: [
          {
            name: "host",
            in: "query",
            schema: { type: "string" },
            description: "one host's bare JID; default: the 200 most recently seen hosts",
          },
          {
            name: "type",
            in: "query",
            schema: { type: "string" },
            description: "log, file, message, spool-dropped, backup…",
          },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000 } },
        ],
        responses: {
          200: {
            description: "events",
            content: { "application/json": { schema: { type: "array" } } },
          },
        },
      },
    },
    "/api/summary": {
      get: {
        summary: "Number of hosts per state",
        responses: {
          200: {
            description: "counts",
            content: { "application/json": { schema: { type: "object" } } },
          },
        },
      },
    },
    "/api/stream": {
      get: {
        summary: "Server-sent events: `summary` at once, then `host` for every change",
        responses: { 200: { description: "text/event-stream" } },
      },
    },
    "/healthz": {
      get: {
        summary: "Health of the XMPP link and Redis",
        responses: { 200: { description: "ok" }, 503: { description: "degraded" } },
      },
    },
    "/metrics": {
      get: {
        summary: "Prometheus metrics",
        responses: { 200: { description: "text exposition format" } },
      },
    },
  },
} as const;
