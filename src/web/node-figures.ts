// Every node's figures, for a dashboard on any one of them. With `wirekit serve --redis` each node
// publishes its own figures on a Redis channel every second and reads everyone else's; a node that closes
// says so, and one not heard from for `expiry` ms (killed, cut off from Redis) is marked gone, then
// forgotten. Without Redis the list is this node alone. Rates (messages, resends per second) are worked
// out here from each node's successive samples, so every dashboard shows the same numbers.
//
// What other nodes send is read as untrusted input: bounded size, known fields only, numbers only.

import { Redis } from 'ioredis'
import type { ServerStats } from './metrics.ts'

export type NodeFiguresOptions = {
  /** This node's id (RedisAdapter `node`, or any unique string). */
  node: string
  /** What a person reads for this node (its addresses, its pid). */
  label: string
  /** Redis URL shared by the nodes; without it, only this node is listed. */
  redis?: string
  /** Channel the nodes talk on; nodes with the same channel see each other. @default 'wirekit:figures' */
  channel?: string
  /** A node silent this long is marked gone, ms. @default 3500 */
  expiry?: number
  /** A gone node is forgotten after this long, ms. @default 60_000 */
  forget?: number
  /** Nodes listed at most (a runaway publisher cannot grow this without bound). @default 64 */
  maxNodes?: number
}

/** Per-second rates over the last two samples of a node. */
export type NodeRates = { received: number; sent: number; resends: number }

export type NodeFigures = {
  node: string
  label: string
  /** This is the node the dashboard is connected to. */
  self: boolean
  /** Not heard from within `expiry` (or it said goodbye): not in the totals. */
  gone: boolean
  stats: ServerStats
  perSecond: NodeRates
}

export type ClusterFigures = {
  at: number
  nodes: NodeFigures[]
  /** Live nodes summed; `eventLoopLagMs` is the worst node's, `rooms` the largest node's (a room spans nodes). */
  totals: {
    nodes: number
    connections: number
    websockets: number
    sessions: { connected: number; retained: number }
    rooms: number
    roomMembers: number
    perSecond: NodeRates
    messages: { received: number; sent: number }
    resends: number
    sessionsLost: number
    slowConsumersCut: number
    rateLimited: number
    eventLoopLagMs: number
    memory: { rss: number; heapUsed: number }
  }
}

export type NodeFiguresFeed = {
  /** Records this node's sample and sends it to the other nodes. */
  share(stats: ServerStats): void
  /** Every node known now, this one first, then by label; and the totals of the live ones. */
  snapshot(now?: number): ClusterFigures
  /** Resolves once subscribed (at once without Redis). */
  ready(): Promise<void>
  /** Says goodbye to the other nodes and closes the Redis connections. */
  close(): Promise<void>
}

/** Largest message read from the channel: one node's figures are well under 2 KiB. */
const MAX_MESSAGE = 16 * 1024
const NODE_ID = /^[\w.:-]{1,64}$/

type Known = { label: string; stats: ServerStats; seen: number; gone: boolean; perSecond: NodeRates }

export function nodeFigures(options: NodeFiguresOptions): NodeFiguresFeed {
  const channel = options.channel ?? 'wirekit:figures'
  const expiry = options.expiry ?? 3500
  const forget = options.forget ?? 60_000
  const maxNodes = options.maxNodes ?? 64
  const known = new Map<string, Known>()
  const label = options.label.slice(0, 200)

  const record = (node: string, nodeLabel: string, stats: ServerStats, now: number) => {
    const before = known.get(node)
    if (before === undefined && known.size >= maxNodes) return
    known.set(node, {
      label: nodeLabel,
      stats,
      seen: now,
      gone: false,
      perSecond: before === undefined ? zeroRates() : rates(before.stats, stats, before.perSecond),
    })
  }

  let pub: Redis | undefined
  let sub: Redis | undefined
  let subscribed: Promise<void> = Promise.resolve()
  if (options.redis !== undefined) {
    const settings = { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: false }
    pub = new Redis(options.redis, settings)
    sub = new Redis(options.redis, { ...settings, enableOfflineQueue: true })
    // An outage is not an error here: the other nodes expire until Redis is back.
    pub.on('error', () => {})
    sub.on('error', () => {})
    const connected = new Promise<void>((resolve) => {
      if (pub!.status === 'ready') resolve()
      else pub!.once('ready', () => resolve())
    })
    // Both connections up (or given up on: the figures must never hold serve back).
    subscribed = Promise.race([
      Promise.all([sub.subscribe(channel), connected]).then(
        () => {},
        () => {},
      ),
      new Promise<void>((resolve) => setTimeout(resolve, 5000).unref()),
    ])
    sub.on('messageBuffer', (_channel: Buffer, body: Buffer) => {
      const message = parse(body)
      if (message === undefined || message.node === options.node) return
      if (message.gone) {
        const entry = known.get(message.node)
        if (entry !== undefined) entry.gone = true
        return
      }
      record(message.node, message.label, message.stats, Date.now())
    })
  }
  const send = (message: object) => {
    if (pub?.status === 'ready') pub.publish(channel, JSON.stringify(message)).catch(() => {})
  }

  return {
    share(stats) {
      record(options.node, label, stats, Date.now())
      send({ node: options.node, label, stats })
    },
    snapshot(now = Date.now()) {
      const nodes: NodeFigures[] = []
      for (const [node, entry] of known) {
        const self = node === options.node
        if (!self && now - entry.seen > forget) {
          known.delete(node)
          continue
        }
        if (!self && now - entry.seen > expiry) entry.gone = true
        nodes.push({
          node,
          label: entry.label,
          self,
          gone: entry.gone,
          stats: entry.stats,
          perSecond: entry.perSecond,
        })
      }
      nodes.sort((a, b) =>
        a.self !== b.self ? (a.self ? -1 : 1) : a.label < b.label ? -1 : a.label > b.label ? 1 : 0,
      )
      return { at: now, nodes, totals: totals(nodes.filter((n) => !n.gone)) }
    },
    ready: () => subscribed,
    async close() {
      if (pub?.status === 'ready')
        await pub.publish(channel, JSON.stringify({ node: options.node, gone: true })).catch(() => {})
      pub?.disconnect()
      sub?.disconnect()
    },
  }
}

function zeroRates(): NodeRates {
  return { received: 0, sent: 0, resends: 0 }
}

/** Rates from two samples; a sample not newer than the last keeps the last rates. */
function rates(before: ServerStats, now: ServerStats, last: NodeRates): NodeRates {
  const seconds = (now.at - before.at) / 1000
  if (!(seconds > 0)) return last
  const per = (a: number, b: number) => Math.max(0, Math.round(((b - a) / seconds) * 10) / 10)
  return {
    received: per(before.messages.received, now.messages.received),
    sent: per(before.messages.sent, now.messages.sent),
    resends: per(before.resends, now.resends),
  }
}

function totals(nodes: NodeFigures[]): ClusterFigures['totals'] {
  const sum = (pick: (n: NodeFigures) => number) => nodes.reduce((total, n) => total + pick(n), 0)
  const max = (pick: (n: NodeFigures) => number) => nodes.reduce((top, n) => Math.max(top, pick(n)), 0)
  return {
    nodes: nodes.length,
    connections: sum((n) => n.stats.connections),
    websockets: sum((n) => n.stats.websockets),
    sessions: {
      connected: sum((n) => n.stats.sessions.connected),
      retained: sum((n) => n.stats.sessions.retained),
    },
    rooms: max((n) => n.stats.rooms),
    roomMembers: sum((n) => n.stats.roomMembers),
    perSecond: {
      received: sum((n) => n.perSecond.received),
      sent: sum((n) => n.perSecond.sent),
      resends: sum((n) => n.perSecond.resends),
    },
    messages: { received: sum((n) => n.stats.messages.received), sent: sum((n) => n.stats.messages.sent) },
    resends: sum((n) => n.stats.resends),
    sessionsLost: sum((n) => n.stats.sessionsEnded.lost ?? 0),
    slowConsumersCut: sum((n) => n.stats.slowConsumersCut),
    rateLimited: sum((n) => n.stats.rateLimited),
    eventLoopLagMs: max((n) => n.stats.eventLoopLagMs),
    memory: { rss: sum((n) => n.stats.memory.rss), heapUsed: sum((n) => n.stats.memory.heapUsed) },
  }
}

type Message = { node: string; label: string; gone: boolean; stats: ServerStats }

/** One node's message, checked field by field; undefined if it is not one. */
export function parse(body: Buffer): Message | undefined {
  if (body.length > MAX_MESSAGE) return undefined
  let raw: unknown
  try {
    raw = JSON.parse(body.toString('utf8'))
  } catch {
    return undefined
  }
  const m = object(raw)
  if (typeof m.node !== 'string' || !NODE_ID.test(m.node)) return undefined
  if (m.gone === true) return { node: m.node, label: '', gone: true, stats: readStats({}) }
  if (typeof m.label !== 'string' || typeof m.stats !== 'object' || m.stats === null) return undefined
  return { node: m.node, label: m.label.slice(0, 200), gone: false, stats: readStats(m.stats) }
}

function object(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {}
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0
}

/** Known fields only, each a finite number ≥ 0 (anything else reads 0). */
function readStats(value: unknown): ServerStats {
  const s = object(value)
  const sessions = object(s.sessions)
  const messages = object(s.messages)
  const outbox = object(s.outbox)
  const memory = object(s.memory)
  const ended = object(s.sessionsEnded)
  const sessionsEnded: Record<string, number> = {}
  for (const reason of ['closed', 'lost', 'slow_consumer', 'protocol', 'other'])
    if (reason in ended) sessionsEnded[reason] = num(ended[reason])
  return {
    at: num(s.at),
    connections: num(s.connections),
    websockets: num(s.websockets),
    sessions: { connected: num(sessions.connected), retained: num(sessions.retained) },
    rooms: num(s.rooms),
    roomMembers: num(s.roomMembers),
    messages: { received: num(messages.received), sent: num(messages.sent) },
    resends: num(s.resends),
    sessionsEnded,
    slowConsumersCut: num(s.slowConsumersCut),
    rateLimited: num(s.rateLimited),
    outbox: {
      messages: num(outbox.messages),
      bytes: num(outbox.bytes),
      maxMessages: num(outbox.maxMessages),
    },
    eventLoopLagMs: num(s.eventLoopLagMs),
    memory: { rss: num(memory.rss), heapUsed: num(memory.heapUsed), heapTotal: num(memory.heapTotal) },
  }
}
