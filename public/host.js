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

/** The shortest time window a chart shows (s): a host minutes old still gets a readable hour. */
const MIN_WINDOW_S = 3600;

/**
 * The time axis covers the data's real window, at least the last hour up to
 * now: uPlot's own range for one or two points spans years.
 */
function timeRange(box) {
  // From the data itself: for one point uPlot hands the range function a
  // padded span of its own (about 1000 days), the bug this replaces.
  return (u) => {
    const times = (u.data[0] ?? []).filter(Number.isFinite);
    const now = Date.now() / 1000;
    const to = Math.max(times.length ? Math.max(...times) : now, now);
    const from = Math.min(times.length ? Math.min(...times) : to, to - MIN_WINDOW_S);
    box.dataset.from = String(Math.round(from));
    box.dataset.to = String(Math.round(to));
    return [from, to];
  };
}

/** "disk//" → "disk /"; "load/load1" → "load load1"; "memory/memory_used" → "memory used"; "ping/ping" → "ping". */
function seriesLabel(name, checkNames) {
  const check = checkNames
    .filter((c) => name.startsWith(`${c}/`))
    .sort((a, b) => b.length - a.length)[0] ?? name.slice(0, Math.max(0, name.indexOf("/")));
  if (!check) return name;
  let metric = name.slice(check.length + 1);
  if (metric.startsWith(`${check}_`)) metric = metric.slice(check.length + 1);
  return !metric || metric === check ? check : `${check} ${metric}`;
}

function drawChart(name, series, container = "charts", label = name) {
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
      title: series.uom ? `${label} (${series.uom})` : label,
      width: 420,
      height: 200,
      scales: { x: { time: true, range: timeRange(box) } },
      series: [{}, { label, stroke: "#2a6fdb", width: 1.5, fill: "rgba(42,111,219,.08)" }],
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
  // The derived state's words (the same as the overview's); the agent's own text after.
  facts.querySelector("b").textContent = h.summary || (h.online ? h.status : h.offlineReason || "offline");
  const agentSays = h.online && h.status && h.status !== h.summary ? ` · agent: ${h.status}` : "";
  facts.querySelector(".muted").textContent = `${agentSays} · ${h.jid} · agent ${h.version || "?"} · last seen ${h.lastSeen ? new Date(h.lastSeen).toLocaleString() : "never"}`;
  $("facts").replaceChildren(facts);

  const checks = h.checks ?? [];
  // Soft: bad, but not yet for `maxAttempts` results in a row, so not alerted.
  const checkState = (c) => (c.stateType === "soft" ? `${c.state} (soft ${c.attempt}/${c.maxAttempts})` : c.state);
  $("checks").replaceChildren(...checks.map((c) => row([[checkState(c), c.state], [c.name], [c.output], [when(c.since)]])));
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
  const checkNames = checks.map((c) => c.name);
  for (const [name, series] of Object.entries(metrics))
    drawChart(name, series, "charts", seriesLabel(name, checkNames));

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
