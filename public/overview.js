// The overview: every host grouped by state, worst first. Filtering and paging
// happen on the server (so 10,000 hosts stay fast); a server-sent event stream
// tells us when something changed and we re-fetch the visible page.
"use strict";
const STATES = ["down", "critical", "warning", "unknown", "ok"];
const PAGE = 200;
const view = { q: "", states: new Set(), offset: 0 };
const $ = (id) => document.getElementById(id);

function td(text, cls) {
  const cell = document.createElement("td");
  if (cls) {
    const badge = document.createElement("span");
    badge.className = `state ${cls}`;
    badge.textContent = text;
    cell.append(badge);
  } else cell.textContent = text;
  return cell;
}

function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  return new Date(iso).toLocaleString();
}

function renderHosts(hosts) {
  const rows = [];
  let group = null;
  for (const h of hosts) {
    if (h.state !== group) {
      group = h.state;
      const tr = document.createElement("tr");
      tr.className = "group";
      const cell = td(group.toUpperCase());
      cell.colSpan = 5;
      tr.append(cell);
      rows.push(tr);
    }
    const tr = document.createElement("tr");
    tr.dataset.jid = h.jid;
    tr.dataset.state = h.state;
    const name = document.createElement("td");
    const link = document.createElement("a");
    link.href = `/host.html?jid=${encodeURIComponent(h.jid)}`;
    link.textContent = h.host;
    name.append(link);
    tr.append(td(h.state, h.state), name, td(h.online ? h.summary || h.status : h.offlineReason || "offline"), td(h.jid), td(ago(h.lastSeen)));
    rows.push(tr);
  }
  $("hosts").replaceChildren(...rows);
}

function renderCounts(summary) {
  const buttons = STATES.map((state) => {
    const b = document.createElement("button");
    b.className = "count";
    b.dataset.state = state;
    b.setAttribute("aria-pressed", String(view.states.has(state)));
    b.innerHTML = `<b></b><span class="state ${state}"></span>`;
    b.querySelector("b").textContent = summary[state] ?? 0;
    b.querySelector("span").textContent = state;
    b.onclick = () => {
      view.states.has(state) ? view.states.delete(state) : view.states.add(state);
      view.offset = 0;
      renderCounts(summary);
      refresh();
    };
    return b;
  });
  $("counts").replaceChildren(...buttons);
  $("total").textContent = `${summary.total} hosts`;
}

let inFlight = false;
let again = false;
async function refresh() {
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  try {
    const params = new URLSearchParams({ sort: "state", offset: String(view.offset), limit: String(PAGE) });
    if (view.q) params.set("q", view.q);
    if (view.states.size) params.set("state", [...view.states].join(","));
    const response = await fetch(`/api/hosts?${params}`);
    const hosts = await response.json();
    const total = Number(response.headers.get("x-total-count") ?? hosts.length);
    renderHosts(hosts);
    $("page").textContent = total ? `${view.offset + 1}–${view.offset + hosts.length} of ${total}` : "no hosts match";
    $("prev").disabled = view.offset === 0;
    $("next").disabled = view.offset + PAGE >= total;
  } finally {
    inFlight = false;
    if (again) {
      again = false;
      setTimeout(refresh, 100);
    }
  }
}

function connect() {
  const stream = new EventSource("/api/stream");
  stream.addEventListener("open", () => ($("live").className = "live on"));
  stream.addEventListener("error", () => ($("live").className = "live off"));
  stream.addEventListener("summary", (e) => renderCounts(JSON.parse(e.data)));
  stream.addEventListener("hosts", () => refresh());
}

let typing;
$("search").addEventListener("input", (e) => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    view.q = e.target.value.trim();
    view.offset = 0;
    refresh();
  }, 150);
});
$("prev").onclick = () => {
  view.offset = Math.max(0, view.offset - PAGE);
  refresh();
};
$("next").onclick = () => {
  view.offset += PAGE;
  refresh();
};
fetch("/api/summary").then((r) => r.json()).then(renderCounts);
// Scheduled downtime (problems recorded, not notified): one line each.
fetch("/api/downtimes")
  .then((r) => r.json())
  .then((list) => {
    const when = (d) =>
      d.cron ? `every "${d.cron}" (UTC) for ${d.durationMs / 60000} min` : `${new Date(d.start).toLocaleString()} – ${new Date(d.end).toLocaleString()}`;
    $("downtimes").replaceChildren(
      ...list.map((d) => {
        const li = document.createElement("li");
        li.textContent = `#${d.id} ${d.check === "*" ? d.host : `${d.host}/${d.check}`}: ${when(d)}${d.comment ? ` — ${d.comment}` : ""}`;
        return li;
      }),
    );
    $("downtimes-section").hidden = list.length === 0;
  })
  .catch(() => {});
refresh();
connect();
