/**
 * Answers every XMPP entity should give: XEP-0199 ping and XEP-0092 version.
 */
import { NS_PING, NS_VERSION } from "../protocol/index.js";
import { el } from "../xmpp/index.js";
import type { Router } from "./router.js";

export function registerBuiltins(
  router: Router,
  software: { name: string; version: string },
): void {
  // https://xmpp.org/extensions/xep-0199.html#s2s: an empty result is the pong.
  router.get(NS_PING, "ping", () => true);
  router.get(NS_VERSION, "query", () =>
    el(
      "query",
      { xmlns: NS_VERSION },
      el("name", {}, software.name),
      el("version", {}, software.version),
    ),
  );
}
