// `wirekit serve`: the chat server (src/cli/chat-server.ts) on a MessageServer, listening on TCP (and
// optionally TLS, a Unix socket), with rooms and sessions shared through Redis when --redis is given, and
// an HTTP side: the browser chat at / and WebSocket clients at /ws (--http, 127.0.0.1:8080 from the CLI),
// and for the operator /metrics and a live /dashboard (--admin-http, or --http with --admin-token).
// Chat lines go through durable rooms: SQLite under --data DIR (survives a restart), Redis Streams with
// --redis (shared by every node), else memory (history on join; a restart starts a new log).

import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { HistoryOptions, ListenOptions } from '../messaging/index.ts'
import { MessageServer, RedisAdapter } from '../messaging/index.ts'
import { parseHostPort } from '../proxy/index.ts'
import { ADMIN_FEED_PATH, adminFeed, listenHttp, metricsFor, nodeFigures, serveRoutes } from '../web/index.ts'
import { ChatService } from './chat-server.ts'

export type { ChatLine, ChatNotice, RoomInfo } from './chat-server.ts'

export type ServeOptions = {
  port: number
  host: string
  path?: string
  tlsCert?: string
  tlsKey?: string
  redis?: string
  /** Directory for the chat history (DIR/history.sqlite), created if missing. Ignored with `redis`. */
  data?: string
  /** Heartbeat: ping after this much silence, ms. @default 5000 */
  heartbeatInterval?: number
  /** Heartbeat: declare the link dead this long after the ping, ms. @default 5000 */
  heartbeatTimeout?: number
  /** How long a disconnected client's session (and its unacknowledged lines) is kept, ms. @default 60_000 */
  retention?: number
  /**
   * Public HTTP listener, `[host:]port` (host defaults to `host`): the browser chat at `/`, WebSocket
   * clients at `/ws`; admin routes only with the token. `'off'` or absent: none. (The CLI defaults to 8080.)
   */
  http?: string
  /** Operator HTTP listener for /metrics and the dashboard, `[host:]port`, loopback unless a host is given. */
  adminHttp?: string
  /** Token for the admin routes (`Authorization: Bearer …`); also read from WIREKIT_ADMIN_TOKEN. */
  adminToken?: string
  /** For tests and embedding: resolve once listening instead of waiting for a signal. */
  signal?: AbortSignal
  log?: (line: string) => void
}

/** Builds the chat server: a MessageServer with the chat on it. */
export function chatServer(
  options: Pick<ServeOptions, 'heartbeatInterval' | 'heartbeatTimeout' | 'retention'> & {
    adapter?: RedisAdapter
    /** Where chat lines are logged. @default memory */
    history?: HistoryOptions
    log?: (line: string) => void
  } = {},
): MessageServer {
  let chat: ChatService | undefined
  const server = new MessageServer({
    adapter: options.adapter,
    retention: options.retention ?? 60_000,
    // Short enough that a dead link shows within 10 s on both sides, long enough for a loaded laptop.
    heartbeat: { interval: options.heartbeatInterval ?? 5000, timeout: options.heartbeatTimeout ?? 5000 },
    authenticate: (credentials) => chat!.authenticate(credentials),
    // No person types 100 lines a second; a flooding client is slowed to that (its reads pause), and
    // everyone else's lines keep flowing.
    rateLimit: { messages: 100, interval: 1000, action: 'throttle' },
    history: { ...CHAT_HISTORY, ...(options.history ?? { store: 'memory' }) },
  })
  chat = new ChatService(server, { log: options.log })
  return server
}

/**
 * What a chat room's log keeps: only the chat's `chat:` rooms are durable (presence and per-client rooms
 * are not); 1000 lines or 1 MiB per room, whichever is less, for a day.
 */
const CHAT_HISTORY: HistoryOptions = {
  maxMessages: 1000,
  maxBytes: 1024 * 1024,
  rooms: { 'chat:*': {}, '*': false },
}

/** The history option for `serve`'s flags: Redis Streams, SQLite under --data, or memory. */
export function chatHistory(options: Pick<ServeOptions, 'redis' | 'data'>): HistoryOptions {
  if (options.redis) return { store: 'redis', redis: options.redis }
  if (options.data !== undefined) {
    mkdirSync(options.data, { recursive: true })
    return { store: 'sqlite', path: join(options.data, 'history.sqlite') }
  }
  return { store: 'memory' }
}

export async function serve(options: ServeOptions): Promise<MessageServer> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`))
  const retention = options.retention ?? 60_000
  const history = chatHistory(options)
  const adapter = options.redis ? await redisAdapter(options.redis, retention) : undefined
  const server = chatServer({ ...options, retention, adapter, history, log })
  log(
    `chat history: ${history.store === 'sqlite' ? history.path : history.store === 'redis' ? 'Redis Streams' : 'memory (lost on restart; --data DIR keeps it)'}`,
  )
  const tls =
    options.tlsCert && options.tlsKey
      ? { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) }
      : undefined
  const listens: ListenOptions[] = [{ host: options.host, port: options.port, tls }]
  if (options.path) listens.push({ path: options.path })
  for (const listen of listens) {
    const address = await server.listen(listen)
    const where =
      'path' in address ? `unix:${address.path}` : `${tls ? 'tls' : 'tcp'}://${address.host}:${address.port}`
    log(`wirekit chat server listening on ${where}`)
  }
  const https = await listenWeb(server, options, log)
  if (options.signal) {
    closers.set(server, () => Promise.all(https.map((h) => h.close())))
    return server
  }
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])
  log('closing (draining for up to 5 s)…')
  await Promise.all(https.map((h) => h.close()))
  await server.close({ drain: 5000 })
  await adapter?.close()
  return server
}

const closers = new WeakMap<MessageServer, () => Promise<unknown>>()

/** Closes the HTTP listeners `serve` started for `server` (for tests and embedding with `signal`). */
export async function closeWeb(server: MessageServer): Promise<void> {
  await closers.get(server)?.()
  metricsFor(server).close()
}

async function listenWeb(
  server: MessageServer,
  options: ServeOptions,
  log: (line: string) => void,
): Promise<{ close(): Promise<unknown> }[]> {
  const http = options.http === 'off' ? undefined : options.http
  if (http === undefined && options.adminHttp === undefined) return []
  const token = options.adminToken ?? process.env.WIREKIT_ADMIN_TOKEN
  const metrics = metricsFor(server)
  const routes = serveRoutes(metrics)
  // Every node's figures on the dashboard: shared through Redis with --redis, else this node alone.
  const nodes = nodeFigures({
    node: server.adapter instanceof RedisAdapter ? server.adapter.node : randomBytes(8).toString('hex'),
    label: nodeLabel(server),
    redis: options.redis,
  })
  await nodes.ready()
  const feed = adminFeed(metrics, { token, nodes })
  const closers: { close(): Promise<unknown> }[] = [feed]
  if (http !== undefined) {
    const at = parseHostPort(http, options.host)
    // Without a token the dashboard's feed is not on the public listener at all (as the admin routes).
    const upgrades = token ? ['/ws', ADMIN_FEED_PATH] : ['/ws']
    const h = await listenHttp({ ...at, routes, role: 'public', token, metrics, upgrades })
    closers.unshift(h)
    // Browsers (and any WebSocket client) join the same chat at /ws.
    server.attach(h.server, { path: '/ws' })
    metrics.trackWebSockets(h.server, '/ws')
    if (token) feed.server.attach(h.server, { path: ADMIN_FEED_PATH })
    const base = `http://${hostForUrl(h.host)}:${h.port}`
    log(`wirekit chat in the browser: ${base}/ (open it in two tabs)`)
    log(
      `wirekit http on ${base}/ (${token ? '/dashboard and /metrics with the admin token' : options.adminHttp !== undefined ? 'admin routes on --admin-http only' : 'no admin routes: give --admin-token or --admin-http'})`,
    )
    log(`wirekit websocket on ws://${hostForUrl(h.host)}:${h.port}/ws`)
  }
  if (options.adminHttp !== undefined) {
    const at = parseHostPort(options.adminHttp, '127.0.0.1')
    const h = await listenHttp({ ...at, routes, role: 'admin', token, metrics, upgrades: [ADMIN_FEED_PATH] })
    closers.unshift(h)
    feed.server.attach(h.server, { path: ADMIN_FEED_PATH })
    const base = `http://${hostForUrl(h.host)}:${h.port}`
    log(`wirekit admin http on ${base}/metrics${token ? ' (admin token required)' : ''}`)
    log(`wirekit dashboard on ${base}/dashboard${token ? '#token=<admin token>' : ''}`)
  }
  return closers
}

/** How the dashboard names this node: where it listens, and which process it is. */
function nodeLabel(server: MessageServer): string {
  const where = server.addresses.map((a) =>
    'path' in a ? `unix:${a.path}` : `${hostForUrl(a.host)}:${a.port}`,
  )
  return `${where.join(' ')} · ${hostname()} pid ${process.pid}`
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

async function redisAdapter(url: string, retention: number): Promise<RedisAdapter> {
  const adapter = new RedisAdapter({ redis: url, retention })
  await adapter.ready()
  return adapter
}
