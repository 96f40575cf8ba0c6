// One host: its state, checks, score breakdown, metric charts (uPlot), events
// and backups, refreshed whenever the server says this host changed.
"use strict";
const jid = new URLSearchParams(location.search).get("jid") ?? "";
const $ = (id) => document.getElementById(id);
const charts = new Map();

function row(cells) {
  const tr = document.createElement("tr");
  for (const [text, cls] of cells) {
    const td = document.createElement("td");
    if (cls) {
      const span = document.createElement("span");
      span.className = `state ${cls}`;
      span.textContent = text;
      td.append(span);
    } else td.textContent = text ?? "";
    tr.append(td);
  }
  return tr;
}

const when = (ms) => (ms ? new Date(ms).toLocaleString() : "");

function drawChart(name, series, container = "charts") {
  // series: { t: [unix seconds], v: [values], uom }
  const data = [series.t, series.v];
  let chart = charts.get(name);
  if (chart) {
    chart.setData(data);
    return;
  }
  const box = document.createElement("div");
  box.className = "chart";
  box.dataset.metric = name;
  $(container).append(box);
  chart = new uPlot(
    {
      title: series.uom ? `${name} (${series.uom})` : name,
      width: 420,
      height: 200,
      series: [{}, { label: name, stroke: "#2a6fdb", width: 1.5, fill: "rgba(42,111,219,.08)" }],
    },
    data,
    box,
  );
  charts.set(name, chart);
}

function render(h) {
  document.title = `jabmon · ${h.host}`;
  $("title").textContent = h.host;
  const facts = document.createElement("div");
  facts.innerHTML = '<span class="state"></span> <b></b> <span class="muted"></span>';
  facts.querySelector(".state").className = `state ${h.state}`;
  facts.querySelector(".state").textContent = h.state;
  facts.querySelector("b").textContent = h.online ? h.status : h.offlineReason || "offline";
  facts.querySelector(".muted").textContent = ` · ${h.jid} · agent ${h.version || "?"} · last seen ${h.lastSeen ? new Date(h.lastSeen).toLocaleString() : "never"}`;
  $("facts").replaceChildren(facts);

  const checks = h.checks ?? [];
  $("checks").replaceChildren(...checks.map((c) => row([[c.state, c.state], [c.name], [c.output], [when(c.since)]])));
  $("checks-section").hidden = !Array.isArray(h.checks);

  const score = h.score;
  $("score-section").hidden = !score;
  if (score) {
    const lines = (score.rules ?? []).map((r) => row([[`+${r.weight}`], [r.name], [r.description ?? ""]]));
    const table = document.createElement("table");
    const head = document.createElement("p");
    head.textContent = `score ${score.total} → ${score.state}`;
    table.append(...lines);
    $("score").replaceChildren(head, table);
  }

  const metrics = h.metrics ?? {};
  $("charts-section").hidden = Object.keys(metrics).length === 0;
  for (const [name, series] of Object.entries(metrics)) drawChart(name, series);

  const events = h.events ?? [];
  $("events").replaceChildren(...events.map((e) => row([[e.severity ?? "info", e.severity === "critical" ? "critical" : e.severity === "warning" ? "warning" : "ok"], [when(e.time)], [e.type], [e.text]])));
  $("events-section").hidden = !Array.isArray(h.events);

  const backups = h.backups ?? [];
  $("backups").replaceChildren(...backups.map((b) => row([[b.status, b.status === "ok" ? "ok" : "critical"], [b.job], [when(b.time)], [`${b.size_bytes ?? "?"} bytes`]])));
  $("backups-section").hidden = !Array.isArray(h.backups);
  // Size over time per job, oldest first: a shrinking backup is as telling as a failed one.
  const jobs = new Map();
  for (const b of [...backups].reverse()) {
    if (b.size_bytes === undefined) continue;
    const series = jobs.get(b.job) ?? { t: [], v: [], uom: "bytes" };
    series.t.push(b.time / 1000);
    series.v.push(b.size_bytes);
    jobs.set(b.job, series);
  }
  for (const [job, series] of jobs) drawChart(`backup ${job}`, series, "backup-chart");
}

async function load() {
  const response = await fetch(`/api/hosts/${encodeURIComponent(jid)}`);
  if (!response.ok) {
    $("facts").textContent = (await response.json()).message;
    return;
  }
  render(await response.json());
}

const stream = new EventSource("/api/stream");
stream.addEventListener("open", () => ($("live").className = "live on"));
stream.addEventListener("error", () => ($("live").className = "live off"));
stream.addEventListener("hosts", (e) => {
  if (JSON.parse(e.data).some((h) => h.jid === jid)) load();
});
load();
