// The fleet, live over XMPP: an operator's own account logs in over
// XMPP-over-WebSocket (RFC 7395, xmpp.js's browser build), fetches every item
// of the component's `hosts` pubsub node (one per host, its current state),
// subscribes to it and to `alerts`, and redraws on each notification. No HTTP
// API is used. docs/gateway.md.
"use strict";
(() => {
  const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
  const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
  const NS_RSM = "http://jabber.org/protocol/rsm";
  const NS_JABMON = "urn:jabmon:0";
  const RANK = { down: 0, critical: 1, warning: 2, unknown: 3, ok: 4 };
  const { client, xml } = window.XMPP;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const hosts = new Map();
  let xmpp;
  let subscribedAs;

  $("ws").value = params.get("ws") || `ws://${location.hostname || "127.0.0.1"}:5280/ws`;
  if (params.get("jid")) $("jid").value = params.get("jid");
  if (params.get("component")) $("component").value = params.get("component");

  const setState = (text, on) => {
    $("xmpp-state").textContent = text;
    $("xmpp-state").className = `live xmpp-state ${on ? "on" : "off"}`;
  };

  function readHost(element) {
    if (!element || element.name !== "host" || element.attrs.xmlns !== NS_JABMON) return;
    const a = element.attrs;
    hosts.set(a.jid, {
      jid: a.jid,
      host: a.host || a.jid,
      state: a.state || "unknown",
      online: a.online === "true",
      since: a.since,
      status: element.getChildText("status") || "",
    });
  }

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) {
      const span = document.createElement("span");
      span.className = className;
      span.textContent = text;
      td.append(span);
    } else td.textContent = text;
    return td;
  }

  function render() {
    const rows = [...hosts.values()].sort(
      (a, b) => (RANK[a.state] ?? 3) - (RANK[b.state] ?? 3) || a.host.localeCompare(b.host),
    );
    const body = document.createElement("tbody");
    body.id = "hosts";
    const counts = {};
    for (const h of rows) {
      counts[h.state] = (counts[h.state] || 0) + 1;
      const tr = document.createElement("tr");
      tr.dataset.jid = h.jid;
      tr.dataset.state = h.state;
      const state = cell(h.state, `state ${h.state}`);
      tr.append(state, cell(h.host), cell(h.status), cell(h.jid), cell(h.since ? new Date(h.since).toLocaleString() : ""));
      body.append(tr);
    }
    $("hosts").replaceWith(body);
    $("counts").textContent = Object.entries(counts)
      .map(([s, n]) => `${n} ${s}`)
      .join(" · ");
  }

  function addAlert(element) {
    if (!element || element.name !== "alert") return;
    const li = document.createElement("li");
    const a = element.attrs;
    li.dataset.kind = a.kind;
    li.textContent = `${a.num ? `#${a.num} ` : ""}${String(a.state).toUpperCase()} ${a.host || a.jid}${a.check ? ` ${a.check}` : ""}: ${element.getChildText("text") || ""}`;
    $("alerts").prepend(li);
    while ($("alerts").children.length > 50) $("alerts").lastElementChild.remove();
  }

  /** Every item of the node, following RSM pages if the service pages its answer. */
  async function fetchItems(to, node, onItem) {
    let after;
    for (let page = 0; page < 1000; page++) {
      const items = xml("items", { node });
      const pubsub = xml("pubsub", { xmlns: NS_PUBSUB }, items);
      if (after) pubsub.append(xml("set", { xmlns: NS_RSM }, xml("after", {}, after)));
      const reply = await xmpp.iqCaller.request(xml("iq", { type: "get", to }, pubsub), 30_000);
      const got = reply.getChild("pubsub", NS_PUBSUB);
      const list = got?.getChild("items")?.getChildren("item") ?? [];
      for (const item of list) onItem(item.getChildElements()[0]);
      const set = got?.getChild("set", NS_RSM);
      const last = set?.getChildText("last");
      if (!last || list.length === 0 || last === after) return;
      after = last;
    }
  }

  async function onOnline(address) {
    const to = $("component").value.trim() || `monitor.${address.domain}`;
    subscribedAs = { to, jid: address.toString() };
    setState(`live as ${address.bare().toString()}`, true);
    // Negative priority: chat messages to the bare JID still go to the operator's other clients.
    await xmpp.send(xml("presence", {}, xml("priority", {}, "-1")));
    for (const node of ["hosts", "alerts"]) {
      await xmpp.iqCaller.request(
        xml("iq", { type: "set", to }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("subscribe", { node, jid: subscribedAs.jid }))),
      );
    }
    hosts.clear();
    await fetchItems(to, "hosts", readHost);
    render();
  }

  function onStanza(stanza) {
    if (!stanza.is("message") || !subscribedAs || stanza.attrs.from !== subscribedAs.to) return;
    const items = stanza.getChild("event", NS_EVENT)?.getChild("items");
    if (!items) return;
    for (const item of items.getChildren("item")) {
      const payload = item.getChildElements()[0];
      if (items.attrs.node === "hosts") readHost(payload);
      else if (items.attrs.node === "alerts") addAlert(payload);
    }
    if (items.attrs.node === "hosts") render();
  }

  async function connect(event) {
    event.preventDefault();
    $("error").textContent = "";
    const [username, domain] = $("jid").value.trim().split("@");
    if (!username || !domain) {
      $("error").textContent = "Give your bare JID, e.g. alice@example.org.";
      return;
    }
    if (xmpp) await xmpp.stop().catch(() => {});
    xmpp = client({
      service: $("ws").value.trim(),
      domain,
      username,
      password: $("password").value,
      resource: `live-${Math.random().toString(36).slice(2, 10)}`,
    });
    xmpp.on("stanza", onStanza);
    xmpp.on("online", (address) =>
      onOnline(address).catch((err) => {
        $("error").textContent = `Could not subscribe: ${err.message} (is your JID in pubsub.subscribers?)`;
      }),
    );
    xmpp.on("offline", () => setState("disconnected", false));
    xmpp.on("disconnect", () => setState("reconnecting…", false));
    xmpp.on("error", (err) => {
      $("error").textContent = `XMPP: ${err.message}`;
    });
    setState("connecting…", false);
    try {
      await xmpp.start();
    } catch (err) {
      setState("not connected", false);
      $("error").textContent = `Could not connect: ${err.message}`;
    }
  }

  // Leave no subscription behind for a page that is gone (notifications to it would be dropped anyway).
  window.addEventListener("pagehide", () => {
    if (!xmpp || !subscribedAs) return;
    for (const node of ["hosts", "alerts"])
      xmpp.send(
        xml("iq", { type: "set", to: subscribedAs.to, id: `u-${node}` }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("unsubscribe", { node, jid: subscribedAs.jid }))),
      );
  });

  $("login").addEventListener("submit", connect);
})();
