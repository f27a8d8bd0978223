// The dashboard's routes: the page, its stylesheet and its script (src/web/dashboard/app.ts, bundled by
// esbuild). The page holds no data, so it needs no token; the data it polls (/stats.json) does.
import { existsSync, readFileSync } from 'node:fs'
import type { Route } from '../http-server.ts'

/** Nothing inline, nothing from elsewhere: the page can only load its own script and style. */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

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
<main id="charts" aria-label="server figures, one chart per figure, last two minutes"></main>
<footer>Polls /stats.json every second (this node). /metrics has the same figures for Prometheus.</footer>
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

let script: Promise<string> | undefined

/** The bundled script: dist/browser/dashboard.js when built, else bundled now from the TypeScript source. */
export function dashboardScript(): Promise<string> {
  script ??= (async () => {
    // From dist/web/dashboard/page.js (installed) or src/web/dashboard/page.ts (a built checkout).
    for (const candidate of ['../../browser/dashboard.js', '../../../dist/browser/dashboard.js']) {
      const built = new URL(candidate, import.meta.url)
      if (built.pathname.includes('/dist/browser/') && existsSync(built)) return readFileSync(built, 'utf8')
    }
    // A checkout: esbuild (a dev dependency) bundles the source once, in memory.
    const esbuild = await import('esbuild').catch(() => {
      script = undefined // try again on the next request (a build may land meanwhile)
      throw new Error('the dashboard script is not built (dist/browser/dashboard.js) and esbuild is absent')
    })
    const result = await esbuild.build({
      // app.ts beside the source, app.js beside the compiled dist/web/dashboard/page.js.
      entryPoints: [
        ['./app.ts', './app.js'].map((f) => new URL(f, import.meta.url).pathname).find(existsSync)!,
      ],
      bundle: true,
      minify: true,
      format: 'esm',
      target: 'es2022',
      write: false,
    })
    return result.outputFiles[0]!.text
  })()
  return script
}

export function dashboardRoutes(): Route[] {
  const page =
    (type: string, body: () => string | Promise<string>): Route['handle'] =>
    async (_req, res) => {
      let text: string
      try {
        text = await body()
      } catch (error) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
        res.end(`${(error as Error).message}\n`)
        return
      }
      res.writeHead(200, {
        'content-type': type,
        'content-security-policy': DASHBOARD_CSP,
        'cache-control': 'no-cache',
      })
      res.end(text)
    }
  return [
    { path: '/dashboard', admin: true, open: true, handle: page('text/html; charset=utf-8', () => HTML) },
    { path: '/dashboard.css', admin: true, open: true, handle: page('text/css; charset=utf-8', () => CSS) },
    {
      path: '/dashboard.js',
      admin: true,
      open: true,
      handle: page('text/javascript; charset=utf-8', dashboardScript),
    },
  ]
}
