// The HTTP side of `wirekit serve`: one route table, served on the public listener (--http) and, for
// the operator, on an admin listener (--admin-http, loopback by default). Admin routes (/metrics, the
// dashboard's data) are never on the public path without a token: on --http they need
// `Authorization: Bearer <--admin-token>`, and without a token they are not there at all.

import { createHash, timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { Histogram } from 'prom-client'
import { browserScript } from './bundle.ts'
import { chatRoutes } from './chat/page.ts'
import { dashboardRoutes } from './dashboard/page.ts'
import type { ServerMetrics } from './metrics.ts'
import { asset, text } from './respond.ts'

export type Route = {
  path: string
  /** Operator-only: served on the admin listener, or on the public one with the admin token. */
  admin: boolean
  /** An operator page holding no data (the dashboard's HTML, CSS, script): no token asked, still only where admin routes exist. */
  open?: boolean
  handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>
}

export type HttpListenerOptions = {
  host: string
  port: number
  routes: Route[]
  /** 'public': admin routes need the token (absent without one). 'admin': admin routes open unless a token is set. */
  role: 'public' | 'admin'
  /** The admin token; compared in constant time. */
  token?: string
  /** Where request durations are recorded (the server's metrics registry). */
  metrics?: ServerMetrics
  /** Paths whose WebSocket upgrades other listeners take (MessageServer.attach); others get 404 at once. */
  upgrades?: string[]
}

export type HttpListener = { server: Server; host: string; port: number; close(): Promise<void> }

/** Security headers on every answer: nothing here is meant to be framed, sniffed or cached by proxies. */
const BASE_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy':
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}

const durations = new WeakMap<ServerMetrics, Histogram<'route' | 'status'>>()

function durationHistogram(metrics: ServerMetrics): Histogram<'route' | 'status'> {
  let histogram = durations.get(metrics)
  if (histogram === undefined) {
    histogram = new Histogram({
      name: 'wirekit_http_request_duration_seconds',
      help: 'Time to answer HTTP requests on the serve/admin listeners, by route and status',
      labelNames: ['route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [metrics.registry],
    })
    durations.set(metrics, histogram)
  }
  return histogram
}

/** Starts one HTTP listener serving `routes`. */
export async function listenHttp(options: HttpListenerOptions): Promise<HttpListener> {
  const histogram = options.metrics ? durationHistogram(options.metrics) : undefined
  const expected = options.token === undefined ? undefined : digest(options.token)
  const table = new Map(options.routes.map((r) => [r.path, r]))
  const server = createServer(async (req, res) => {
    const started = performance.now()
    let route = 'unknown'
    res.on('finish', () =>
      histogram?.observe({ route, status: String(res.statusCode) }, (performance.now() - started) / 1000),
    )
    for (const [name, value] of Object.entries(BASE_HEADERS)) res.setHeader(name, value)
    const path = (req.url ?? '/').split('?', 1)[0]!
    const found = table.get(path)
    const visible =
      found !== undefined && (!found.admin || options.role === 'admin' || expected !== undefined)
    if (!visible) return text(res, 404, 'not found\n')
    route = found.path
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      return text(res, 405, 'method not allowed\n')
    }
    if (found.admin && !found.open && expected !== undefined && !authorized(req, expected)) {
      res.setHeader('www-authenticate', 'Bearer realm="wirekit admin"')
      return text(res, 401, 'admin token required (Authorization: Bearer <token>)\n')
    }
    try {
      await found.handle(req, res)
    } catch {
      if (!res.headersSent) text(res, 500, 'internal error\n')
      else res.destroy()
    }
  })
  // An upgrade nobody takes would hang until the client gives up: refuse it now.
  const upgrades = new Set(options.upgrades ?? [])
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    if (upgrades.has((req.url ?? '/').split('?', 1)[0]!)) return
    socket.on('error', () => {})
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
  })
  // Slow or oversized requests cannot hold the listener: it only ever answers small GETs.
  server.headersTimeout = 10_000
  server.requestTimeout = 15_000
  server.keepAliveTimeout = 5_000
  server.maxHeadersCount = 64
  server.maxConnections = 1024
  server.listen(options.port, options.host)
  await once(server, 'listening')
  const address = server.address() as AddressInfo
  return {
    server,
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** The routes of `wirekit serve`. Each place the browser side will take is marked. */
export function serveRoutes(metrics: ServerMetrics, extra: Route[] = []): Route[] {
  return [
    {
      path: '/metrics',
      admin: true,
      async handle(_req, res) {
        const body = await metrics.metrics()
        res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' })
        res.end(body)
      },
    },
    {
      path: '/stats.json',
      admin: true,
      handle(_req, res) {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        res.end(JSON.stringify(metrics.stats()))
      },
    },
    {
      // Browsers ask for it on every page; an empty answer keeps their consoles clean.
      path: '/favicon.ico',
      admin: false,
      handle(_req, res) {
        res.writeHead(204, { 'cache-control': 'max-age=86400' })
        res.end()
      },
    },
    {
      // The browser client (`@wirekit/core/client`) for pages that talk to this server at /ws.
      path: '/wirekit-client.js',
      admin: false,
      handle: asset('text/javascript; charset=utf-8', () => browserScript('client')),
    },
    ...chatRoutes(),
    ...dashboardRoutes(),
    ...extra,
    // '/ws' (chat clients) and '/admin/ws' (the dashboard's feed) are not routes: serve() attaches
    // MessageServers to the listeners for them.
  ]
}

function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null
  return match !== null && timingSafeEqual(digest(match[1]!), expected)
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}
