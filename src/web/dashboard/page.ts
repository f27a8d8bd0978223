// The dashboard's routes: the page, its stylesheet and its script (src/web/dashboard/app.ts, bundled with
// the wirekit client). The page holds no data, so it needs no token; its feed (/admin/ws, see
// admin-feed.ts) and /stats.json do.
import { browserScript } from '../bundle.ts'
import type { Route } from '../http-server.ts'
import { asset } from '../respond.ts'

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wirekit · dashboard</title>
<link rel="stylesheet" href="/dashboard.css">
</head>
<body>
<header>
<h1>wirekit dashboard</h1>
<p id="status" role="status" aria-live="polite">connecting…</p>
</header>
<section aria-labelledby="nodes-title">
<h2 id="nodes-title">Nodes</h2>
<div class="scroll">
<table id="nodes">
<thead><tr><th scope="col">node</th><th scope="col">TCP</th><th scope="col">WebSocket</th><th scope="col">sessions</th><th scope="col">retained</th><th scope="col">rooms</th><th scope="col">members</th><th scope="col">in/s</th><th scope="col">out/s</th><th scope="col">resends/s</th><th scope="col">sessions lost</th><th scope="col">slow cut</th><th scope="col">rate-limited</th><th scope="col">lag ms</th><th scope="col">heap MiB</th><th scope="col">RSS MiB</th></tr></thead>
<tbody id="node-rows"></tbody>
</table>
</div>
</section>
<h2 id="charts-title">This node, last two minutes</h2>
<main id="charts" aria-labelledby="charts-title"></main>
<footer>Live: pushed every second over a wirekit connection (/admin/ws). With <code>serve --redis</code> every node sharing the Redis is listed; a node silent for 3.5 s is marked gone. /metrics has this node's figures for Prometheus.</footer>
<script type="module" src="/dashboard.js"></script>
</body>
</html>
`

const CSS = `:root { color-scheme: light dark; --fg: #1d232a; --muted: #5b6570; --line: #2f6fdf; --bg: #fff; --card: #f4f6f8; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ec; --muted: #9aa4ad; --line: #6ea0ff; --bg: #14171a; --card: #1e2227; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header, footer { padding: 12px 16px; }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 8px 16px; }
section { padding: 0 0 8px; }
.scroll { overflow-x: auto; padding: 0 16px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; white-space: nowrap; }
th, td { padding: 4px 8px; text-align: right; border-bottom: 1px solid var(--card); }
th:first-child, td:first-child { text-align: left; }
tr.gone td { color: var(--muted); text-decoration: line-through; }
tr.total td { font-weight: 600; border-top: 2px solid var(--muted); }
#status { margin: 0; color: var(--muted); }
#status.down { color: #d33; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; padding: 0 16px; }
figure { margin: 0; padding: 10px 12px; background: var(--card); border-radius: 8px; }
figcaption { display: flex; justify-content: space-between; gap: 8px; margin-bottom: 6px; }
.value { font-variant-numeric: tabular-nums; font-weight: 600; }
svg { width: 100%; height: 60px; display: block; }
polyline { stroke: var(--line); }
.axis { stroke: var(--muted); stroke-width: 0.5; }
svg text { fill: var(--muted); }
footer { color: var(--muted); font-size: 12px; }
`

export function dashboardRoutes(): Route[] {
  return [
    { path: '/dashboard', admin: true, open: true, handle: asset('text/html; charset=utf-8', () => HTML) },
    { path: '/dashboard.css', admin: true, open: true, handle: asset('text/css; charset=utf-8', () => CSS) },
    {
      path: '/dashboard.js',
      admin: true,
      open: true,
      handle: asset('text/javascript; charset=utf-8', () => browserScript('dashboard')),
    },
  ]
}
