// Prometheus metrics for a MessageServer, on prom-client: `metricsFor(server)` gives a registry to serve
// at /metrics (wirekit serve --http does) or from your own HTTP server. Nothing is added to the
// per-message path: message counts come from the sessions' own sequence numbers, read at scrape time;
// resends, rate limiting and handler timings come from the messaging diagnostics channels.

import diagnostics from 'node:diagnostics_channel'
import type { Server as HttpServer, IncomingMessage } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Duplex } from 'node:stream'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { ErrorCodes } from '../errors.ts'
import type { MessageServer, Peer } from '../messaging/index.ts'

export type MetricsOptions = {
  /** Also export the process metrics (event-loop lag, heap, RSS, CPU, GC). @default true */
  processMetrics?: boolean
}

/** Plain numbers for a dashboard (what /stats.json serves). Counters are totals since the registry began. */
export type ServerStats = {
  at: number
  connections: number
  /** Of `connections`, those over WebSocket (counted once trackWebSockets is called); the rest are TCP/TLS/Unix. */
  websockets: number
  sessions: { connected: number; retained: number }
  rooms: number
  roomMembers: number
  messages: { received: number; sent: number }
  resends: number
  sessionsEnded: Record<string, number>
  slowConsumersCut: number
  rateLimited: number
  outbox: { messages: number; bytes: number; maxMessages: number }
  eventLoopLagMs: number
  memory: { rss: number; heapUsed: number; heapTotal: number }
}

export type ServerMetrics = {
  readonly registry: Registry
  /** The Prometheus text exposition. */
  metrics(): Promise<string>
  readonly contentType: string
  stats(): ServerStats
  /** Counts the WebSocket connections `http` upgrades at `path` (where the server is attached). */
  trackWebSockets(http: HttpServer, path: string): void
  /** Stops listening to the server and the diagnostics channels. */
  close(): void
}

const RESEND = 'wirekit:messaging:resend'
const RATE_LIMITED = 'wirekit:messaging:rateLimited'
const HANDLER = 'wirekit:messaging:handler'

const made = new WeakMap<MessageServer, ServerMetrics>()

/**
 * The metrics registry of `server`, made on first call (the same one after). DESIGN names this
 * `server.metrics()`; it lives here, above messaging, so the messaging layer does not depend on
 * prom-client.
 * @example
 * const metrics = metricsFor(server)
 * http.createServer(async (req, res) => res.end(await metrics.metrics()))
 */
export function metricsFor(server: MessageServer, options: MetricsOptions = {}): ServerMetrics {
  const existing = made.get(server)
  if (existing !== undefined) return existing
  const metrics = build(server, options)
  made.set(server, metrics)
  return metrics
}

/** Per-peer positions already counted, so totals keep growing across reconnects and session ends. */
type Seen = { received: number; sent: number }

function build(server: MessageServer, options: MetricsOptions): ServerMetrics {
  const registry = new Registry()
  const registers = [registry]
  const totals = { received: 0, sent: 0, resends: 0, slow: 0, rateLimited: 0 }
  const ended = new Map<string, number>()
  const seen = new WeakMap<Peer, Seen>()
  let websockets = 0

  // Message counts: a session's sequence numbers are its reliable message counts; count the growth.
  const account = (peer: Peer) => {
    const last = seen.get(peer) ?? { received: 0, sent: 0 }
    const received = peer.lastReceived
    const sent = peer.nextSeq - 1
    if (received > last.received) totals.received += received - last.received
    if (sent > last.sent) totals.sent += sent - last.sent
    seen.set(peer, { received: Math.max(received, last.received), sent: Math.max(sent, last.sent) })
  }
  const accountAll = () => {
    for (const peer of server.peers.values()) account(peer)
  }

  const onDisconnect = (peer: Peer, reason: unknown) => {
    account(peer)
    const code = (reason as { code?: unknown } | undefined)?.code
    const why = endReason(code)
    ended.set(why, (ended.get(why) ?? 0) + 1)
    if (why === 'slow_consumer') totals.slow++
  }
  server.on('disconnect', onDisconnect)

  const ours = (session: unknown): session is Peer => {
    const id = (session as { id?: unknown } | undefined)?.id
    return typeof id === 'string' && server.peers.get(id) === session
  }
  const onResend = (message: unknown) => {
    const { session, count } = message as { session: unknown; count: number }
    if (ours(session)) totals.resends += count
  }
  const onRateLimited = (message: unknown) => {
    if (ours((message as { peer: unknown }).peer)) totals.rateLimited++
  }
  const handlerSeconds = new Histogram({
    name: 'wirekit_request_handler_duration_seconds',
    help: 'Time request handlers took, from the request arriving to the handler settling',
    labelNames: ['method', 'outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  })
  const onHandled = (message: unknown) => {
    const { session, method, ms, ok } = message as {
      session: unknown
      method: string
      ms: number
      ok: boolean
    }
    if (!ours(session)) return
    // Methods are client-chosen names: only registered handlers get their own series.
    handlerSeconds.observe({ method, outcome: ok ? 'ok' : 'error' }, ms / 1000)
  }
  diagnostics.subscribe(RESEND, onResend)
  diagnostics.subscribe(RATE_LIMITED, onRateLimited)
  diagnostics.subscribe(HANDLER, onHandled)

  const snapshot = () => {
    let connected = 0
    let retained = 0
    let members = 0
    let outboxMessages = 0
    let outboxBytes = 0
    let outboxMax = 0
    const rooms = new Set<string>()
    for (const peer of server.peers.values()) {
      if (peer.connected) connected++
      else retained++
      for (const room of peer.rooms) {
        if (room === peer.id) continue
        rooms.add(room)
        members++
      }
      const depth = peer.outbox.count
      outboxMessages += depth
      outboxBytes += peer.outbox.bytes
      if (depth > outboxMax) outboxMax = depth
    }
    return { connected, retained, rooms: rooms.size, members, outboxMessages, outboxBytes, outboxMax }
  }

  new Gauge({
    name: 'wirekit_connections',
    help: 'Open client connections (handshaking ones included), by transport',
    labelNames: ['transport'],
    registers,
    collect() {
      this.set({ transport: 'websocket' }, Math.min(websockets, server.connectionCount))
      this.set({ transport: 'stream' }, Math.max(0, server.connectionCount - websockets))
    },
  })
  new Gauge({
    name: 'wirekit_sessions',
    help: 'Sessions on this node: connected, or retained (client away, resumable)',
    labelNames: ['state'],
    registers,
    collect() {
      const s = snapshot()
      this.set({ state: 'connected' }, s.connected)
      this.set({ state: 'retained' }, s.retained)
    },
  })
  new Gauge({
    name: 'wirekit_rooms',
    help: 'Rooms with at least one member on this node',
    registers,
    collect() {
      this.set(snapshot().rooms)
    },
  })
  new Gauge({
    name: 'wirekit_room_members',
    help: 'Room memberships on this node (a session in three rooms counts three)',
    registers,
    collect() {
      this.set(snapshot().members)
    },
  })
  new Counter({
    name: 'wirekit_messages_received_total',
    help: 'Reliable messages (events, requests, responses) received from clients',
    registers,
    collect() {
      accountAll()
      this.reset()
      this.inc(totals.received)
    },
  })
  new Counter({
    name: 'wirekit_messages_sent_total',
    help: 'Reliable messages sent to clients (a broadcast to n clients counts n)',
    registers,
    collect() {
      accountAll()
      this.reset()
      this.inc(totals.sent)
    },
  })
  new Counter({
    name: 'wirekit_resent_messages_total',
    help: 'Messages sent again to a client after it resumed its session',
    registers,
    collect() {
      this.reset()
      this.inc(totals.resends)
    },
  })
  new Counter({
    name: 'wirekit_sessions_ended_total',
    help: 'Sessions ended, by reason (closed by the client, expired after retention: lost, slow consumer, protocol error…)',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset()
      for (const [reason, count] of ended) this.inc({ reason }, count)
    },
  })
  new Counter({
    name: 'wirekit_slow_consumers_cut_total',
    help: 'Clients cut because they did not read (their outbox went over peerBuffer)',
    registers,
    collect() {
      this.reset()
      this.inc(totals.slow)
    },
  })
  new Counter({
    name: 'wirekit_rate_limited_total',
    help: 'Times a client went over its rate limit (throttled or cut)',
    registers,
    collect() {
      this.reset()
      this.inc(totals.rateLimited)
    },
  })
  const outboxDepth = new Histogram({
    name: 'wirekit_outbox_depth_messages',
    help: 'Unacknowledged messages per session at the time of the scrape',
    buckets: [0, 1, 10, 100, 1000, 10_000],
    registers,
  })
  new Gauge({
    name: 'wirekit_outbox_bytes',
    help: 'Bytes of unacknowledged messages held for all sessions',
    registers,
    collect() {
      // Also refreshes the depth histogram: a distribution over the sessions present now.
      outboxDepth.reset()
      let bytes = 0
      for (const peer of server.peers.values()) {
        outboxDepth.observe(peer.outbox.count)
        bytes += peer.outbox.bytes
      }
      this.set(bytes)
    },
  })
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry })

  const lag = eventLoopLag()
  return {
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    stats() {
      accountAll()
      const s = snapshot()
      const memory = process.memoryUsage()
      return {
        at: Date.now(),
        connections: server.connectionCount,
        websockets: Math.min(websockets, server.connectionCount),
        sessions: { connected: s.connected, retained: s.retained },
        rooms: s.rooms,
        roomMembers: s.members,
        messages: { received: totals.received, sent: totals.sent },
        resends: totals.resends,
        sessionsEnded: Object.fromEntries(ended),
        slowConsumersCut: totals.slow,
        rateLimited: totals.rateLimited,
        outbox: { messages: s.outboxMessages, bytes: s.outboxBytes, maxMessages: s.outboxMax },
        eventLoopLagMs: lag.ms(),
        memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal },
      }
    },
    trackWebSockets(http, path) {
      // Its own upgrade listener beside the server's: counts the sockets of `path` until they close.
      http.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
        if ((req.url ?? '/').split('?', 1)[0] !== path) return
        websockets++
        socket.once('close', () => websockets--)
      })
    },
    close() {
      server.off('disconnect', onDisconnect)
      diagnostics.unsubscribe(RESEND, onResend)
      diagnostics.unsubscribe(RATE_LIMITED, onRateLimited)
      diagnostics.unsubscribe(HANDLER, onHandled)
      lag.stop()
      registry.clear()
      made.delete(server)
    },
  }
}

function endReason(code: unknown): string {
  switch (code) {
    case ErrorCodes.CLOSED:
      return 'closed'
    case ErrorCodes.SESSION_LOST:
      return 'lost'
    case ErrorCodes.SLOW_CONSUMER:
      return 'slow_consumer'
    case ErrorCodes.PROTOCOL:
      return 'protocol'
    default:
      return 'other'
  }
}

/** Event-loop lag for the stats: the mean of a node:perf_hooks delay histogram beyond its sampling period, reset at each read. */
function eventLoopLag(): { ms(): number; stop(): void } {
  const resolution = 20
  const histogram = monitorEventLoopDelay({ resolution })
  histogram.enable()
  return {
    ms() {
      // The sampling timer's own period is part of each measured delay: an idle loop reads ~resolution.
      const mean = histogram.mean / 1e6 - resolution
      histogram.reset()
      return Number.isFinite(mean) ? Math.max(0, Math.round(mean * 100) / 100) : 0
    },
    stop: () => histogram.disable(),
  }
}
