/**
 * The overview page: every host and its state, refreshed every second from
 * /api/hosts. Plain HTML and a few lines of script, no build step.
 */
export const OVERVIEW_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jabmon</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
  #summary { margin-bottom: 1rem; color: #555; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e4e4e4; }
  th { font-weight: 600; background: #f6f6f6; }
  .state { font-weight: 600; text-transform: uppercase; font-size: .8rem; padding: .1rem .4rem; border-radius: 3px; }
  .ok { background: #d7f5dd; color: #145c24; }
  .warning { background: #fff1c2; color: #6b5300; }
  .critical, .down { background: #ffd6d6; color: #8a1010; }
  .unknown { background: #e6e6e6; color: #444; }
</style>
</head>
<body>
<h1>jabmon</h1>
<div id="summary">loading…</div>
<table>
  <thead><tr><th>Host</th><th>State</th><th>Status</th><th>JID</th><th>Last seen</th></tr></thead>
  <tbody id="hosts"></tbody>
</table>
<script>
const ORDER = { down: 0, critical: 1, warning: 2, unknown: 3, ok: 4 };
function cell(text, className) {
  const td = document.createElement("td");
  if (className) {
    const span = document.createElement("span");
    span.className = "state " + className;
    span.textContent = text;
    td.appendChild(span);
  } else td.textContent = text;
  return td;
}
async function refresh() {
  try {
    const response = await fetch("api/hosts");
    const hosts = await response.json();
    hosts.sort((a, b) => ORDER[a.state] - ORDER[b.state] || a.host.localeCompare(b.host));
    const rows = hosts.map((h) => {
      const tr = document.createElement("tr");
      tr.dataset.jid = h.jid;
      tr.dataset.state = h.state;
      tr.append(cell(h.host), cell(h.state, h.state), cell(h.online ? h.status : (h.offlineReason || "offline")),
        cell(h.jid), cell(h.lastSeen ? new Date(h.lastSeen).toLocaleString() : ""));
      return tr;
    });
    document.getElementById("hosts").replaceChildren(...rows);
    const up = hosts.filter((h) => h.online).length;
    document.getElementById("summary").textContent = hosts.length + " hosts, " + up + " online, " + (hosts.length - up) + " down";
  } catch (err) {
    document.getElementById("summary").textContent = "cannot reach the status API: " + err;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
