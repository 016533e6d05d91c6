"""The site page as one self-contained HTML file: inline CSS and JavaScript, the data inline as JSON, no CDN and
no build step. Live, it fetches `status.json` every `refresh` seconds; the static copy (reports/site.html)
shows the data it was written with. Text from the data is set as text (never as HTML).
"""

from __future__ import annotations

import html
import json

from pipeline.site.model import Snapshot

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rebuild: __TITLE__</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .2em; }
#when { color: #666; margin-bottom: 1em; }
#sums { margin: .5em 0 1em; }
#sums span { display: inline-block; margin-right: 1.5em; }
table { border-collapse: collapse; min-width: 60%; }
th, td { padding: .3em .7em; border-bottom: 1px solid #ddd; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.bar { background: #eee; width: 10em; height: .7em; border-radius: .35em; overflow: hidden; }
.bar > div { background: #3a7; height: 100%; }
.state-ok { color: #185; } .state-running { color: #146; } .state-waiting { color: #777; }
.bad { color: #b22; font-weight: 600; }
.reason { color: #b22; font-size: .9em; }
svg { border: 1px solid #ddd; background: #fafafa; }
</style></head>
<body>
<h1>Mailbox rebuild: <span id="title"></span></h1>
<div id="when"></div>
<div id="sums"></div>
<table><thead><tr><th>mailbox</th><th>state</th><th>items done / total</th><th></th><th>failed</th>
<th title="the folders, contacts, calendar and the last days' mail are in place (usable first)">usable</th></tr></thead>
<tbody id="rows"></tbody></table>
<h2 style="font-size:1.05em">Items a second</h2>
<svg id="chart" width="640" height="140" viewBox="0 0 640 140" role="img" aria-label="items a second over time"></svg>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const LIVE = __LIVE__, REFRESH = __REFRESH__, LINKS = "__LINKS__";
const BAD = new Set(["failed-items", "fatal", "crashed", "busy", "lease-lost", "interrupted"]);
function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text;
  if (cls) td.className = cls; tr.appendChild(td); return td; }
function show(data) {
  document.getElementById("title").textContent = data.title;
  document.getElementById("when").textContent = (data.finished ? "finished; " : (LIVE ? "live; " : ""))
    + "as of " + data.generated;
  const body = document.getElementById("rows"); body.replaceChildren();
  let done = 0, total = 0, failed = 0, stopped = 0;
  for (const r of data.rows) {
    const tr = document.createElement("tr"); tr.dataset.mailbox = r.mailbox;
    cell(tr, r.mailbox);
    const st = cell(tr, r.state, BAD.has(r.state) ? "bad" : "state-" + r.state);
    if (r.reason) { const why = document.createElement("div"); why.className = "reason";
      why.textContent = r.reason; st.appendChild(why); }
    const t = r.total === null ? "?" : r.total;
    cell(tr, r.done + " / " + t, "n done");
    const bar = cell(tr, ""); const outer = document.createElement("div"); outer.className = "bar";
    const inner = document.createElement("div");
    inner.style.width = (r.total ? Math.min(100, 100 * r.done / r.total) : 0) + "%";
    outer.appendChild(inner); bar.appendChild(outer);
    const f = cell(tr, String(r.failed), r.failed ? "n bad" : "n");
    if (r.failures_file) { f.textContent = ""; const a = document.createElement("a");
      a.href = LINKS + encodeURIComponent(r.failures_file); a.textContent = r.failed ? r.failed + " (list)" : "see list";
      a.className = "failures"; f.appendChild(a); }
    cell(tr, r.usable === null ? "\\u2014" : (r.usable ? "yes" : "not yet"));
    body.appendChild(tr);
    done += r.done; total += r.total || 0; failed += r.failed; if (BAD.has(r.state)) stopped += 1;
  }
  const sums = document.getElementById("sums"); sums.replaceChildren();
  const n = (count, noun) => count + " " + noun + (count === 1 ? "" : "s");
  for (const text of [n(data.rows.length, "mailbox").replace("mailboxs", "mailboxes"),
                      done + " of " + n(total, "item") + " done", n(failed, "failed item"),
                      n(stopped, "mailbox").replace("mailboxs", "mailboxes") + " not ok"]) {
    const s = document.createElement("span"); s.textContent = text; sums.appendChild(s); }
  chart(data.rate);
}
function chart(points) {
  const svg = document.getElementById("chart"), W = 640, H = 140, P = 24;
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  const label = (x, y, text) => { const t = document.createElementNS(ns, "text"); t.setAttribute("x", x);
    t.setAttribute("y", y); t.setAttribute("font-size", "11"); t.setAttribute("fill", "#666");
    t.textContent = text; svg.appendChild(t); };
  if (points.length < 2) { label(P, H / 2, "not enough samples yet"); return; }
  const maxX = Math.max(...points.map(p => p[0])) || 1, minX = points[0][0];
  const maxY = Math.max(1, ...points.map(p => p[1]));
  const xy = p => [P + (W - 2 * P) * (p[0] - minX) / Math.max(maxX - minX, 1e-9), H - P - (H - 2 * P) * p[1] / maxY];
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.map(p => xy(p).map(v => v.toFixed(1)).join(",")).join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#3a7"); line.setAttribute("stroke-width", "2");
  svg.appendChild(line);
  label(2, P - 6, maxY.toFixed(1) + "/s"); label(2, H - 6, "0"); label(W - 70, H - 6, Math.round(maxX) + " s");
}
show(JSON.parse(document.getElementById("data").textContent));
if (LIVE) {
  setInterval(() => fetch("status.json", {cache: "no-store"}).then(r => r.json()).then(show).catch(() => {
    document.getElementById("when").textContent = "the run is over or unreachable; last data shown"; }),
    REFRESH * 1000);
}
</script>
</body></html>
"""


def render(snapshot: Snapshot, live: bool = False, refresh: float = 2.0, links: str = "") -> str:
    """The page. live: it refreshes from status.json every `refresh` seconds; links: the prefix of a failures
    file's address ("reports/" when served, "" beside the reports)."""
    data = json.dumps(snapshot.as_dict(), ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    title = html.escape(snapshot.title).replace("_", "&#95;")  # no placeholder can hide in it
    page = (
        _PAGE.replace("__LIVE__", "true" if live else "false")
        .replace("__REFRESH__", f"{refresh:g}")
        .replace("__LINKS__", links.replace('"', ""))
        .replace("__TITLE__", title)
    )
    return page.replace("__DATA__", data)  # last: the data is never searched for placeholders
