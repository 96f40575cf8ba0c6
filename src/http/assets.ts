/**
 * Static files of the status page: /public (ours) and uPlot from npm, read
 * once at start and served from memory.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyPluginAsync } from "fastify";

// src/http and dist/http are both two levels below the package root.
const PUBLIC = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "public");
const UPLOT = dirname(createRequire(import.meta.url).resolve("uplot/dist/uPlot.iife.min.js"));
// xmpp.js's own browser build (WebSocket transport) for the live view over XMPP (docs/gateway.md).
const XMPPJS = join(dirname(createRequire(import.meta.url).resolve("@xmpp/client")), "dist");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

interface Asset {
  body: Buffer;
  type: string;
}

function load(path: string): Asset {
  const ext = path.slice(path.lastIndexOf("."));
  return { body: readFileSync(path), type: TYPES[ext] ?? "application/octet-stream" };
}

export const assetRoutes: FastifyPluginAsync = async (app) => {
  const pages: Record<string, Asset> = {
    "/": load(join(PUBLIC, "index.html")),
    "/host.html": load(join(PUBLIC, "host.html")),
    "/assets/style.css": load(join(PUBLIC, "style.css")),
    "/assets/overview.js": load(join(PUBLIC, "overview.js")),
    "/assets/host.js": load(join(PUBLIC, "host.js")),
    "/assets/favicon.svg": load(join(PUBLIC, "favicon.svg")),
    "/assets/uPlot.iife.min.js": load(join(UPLOT, "uPlot.iife.min.js")),
    "/assets/uPlot.min.css": load(join(UPLOT, "uPlot.min.css")),
    "/live.html": load(join(PUBLIC, "live.html")),
    "/assets/xmpp-live.js": load(join(PUBLIC, "xmpp-live.js")),
    "/assets/xmpp.min.js": load(join(XMPPJS, "xmpp.min.js")),
  };
  // Browsers ask for /favicon.ico whatever the page says: answer it, not 404.
  pages["/favicon.ico"] = pages["/assets/favicon.svg"] as Asset;
  for (const [url, asset] of Object.entries(pages)) {
    app.get(url, async (_request, reply) =>
      reply.type(asset.type).header("cache-control", "no-cache").send(asset.body),
    );
  }
};
