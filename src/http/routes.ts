/**
 * Read-only status routes, as a fastify plugin: no route here changes state.
 */
import type { FastifyPluginAsync } from "fastify";
import type { HostRecord, HostStore } from "../store/index.js";

export interface StatusRoutesOptions {
  hosts: HostStore;
  /** Health of the parts the page depends on. */
  health: () => Promise<Record<string, boolean>>;
}

export interface HostView {
  jid: string;
  host: string;
  online: boolean;
  state: HostRecord["state"];
  status: string;
  lastSeen: string | null;
  since: string | null;
  version: string;
  offlineReason?: string;
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);

export function hostView(record: HostRecord): HostView {
  const view: HostView = {
    jid: record.jid,
    host: record.host,
    online: record.online,
    state: record.state,
    status: record.status,
    lastSeen: iso(record.lastSeen),
    since: iso(record.since),
    version: record.version,
  };
  if (!record.online && record.offlineReason) view.offlineReason = record.offlineReason;
  return view;
}

export const statusRoutes: FastifyPluginAsync<StatusRoutesOptions> = async (app, options) => {
  app.get("/api/hosts", async () => (await options.hosts.list()).map(hostView));

  app.get("/healthz", async (_request, reply) => {
    const parts = await options.health();
    const ok = Object.values(parts).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ ok, ...parts });
  });
};
