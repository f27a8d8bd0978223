// The dashboard's live feed: a small MessageServer of its own (not the chat's: a dashboard is not a chat
// client and does not show up in the chat's figures), attached at /admin/ws. Every second it samples the
// chat server's figures (metricsFor(server).stats()) and pushes them, volatile, to every dashboard; a
// dashboard that just opened asks for the last two minutes ('recent'). With an admin token, a dashboard
// must present it in its credentials ({ token }), compared in constant time. With `nodes` (node-figures.ts)
// each sample is also shared with the other nodes, and every dashboard gets every node's figures ('nodes').

import { createHash, timingSafeEqual } from 'node:crypto'
import { MessageServer } from '../messaging/index.ts'
import type { ServerMetrics, ServerStats } from './metrics.ts'
import type { NodeFiguresFeed } from './node-figures.ts'

/** The path dashboards connect to (on the admin listener, or on the public one when a token is set). */
export const ADMIN_FEED_PATH = '/admin/ws'
/** Samples kept for a dashboard that just opened: two minutes at one a second. */
const RECENT = 120

export type AdminFeedOptions = {
  /** When set, a dashboard must send `{ token }` as its credentials. */
  token?: string
  /** Time between samples, ms. @default 1000 */
  interval?: number
  /** Every node's figures (this node's samples are shared through it); pushed as 'nodes' each second. */
  nodes?: NodeFiguresFeed
}

export type AdminFeed = { server: MessageServer; close(): Promise<void> }

export function adminFeed(metrics: ServerMetrics, options: AdminFeedOptions = {}): AdminFeed {
  const expected = options.token === undefined ? undefined : digest(options.token)
  const server = new MessageServer({
    authenticate:
      expected === undefined
        ? undefined
        : (credentials) => {
            const token = (credentials as { token?: unknown } | undefined)?.token
            if (typeof token !== 'string' || !timingSafeEqual(digest(token), expected))
              throw new Error('the admin token is missing or wrong')
            return true
          },
    // A dashboard holds nothing worth resuming: a reconnect asks for 'recent' again.
    retention: 5_000,
    heartbeat: { interval: 5_000, timeout: 5_000 },
    maxConnections: 64,
    maxConnectionsPerAddress: 16,
  })
  const recent: ServerStats[] = []
  const nodes = options.nodes
  server.handle('recent', () => recent)
  server.handle('nodes', () => nodes?.snapshot())
  const timer = setInterval(() => {
    const stats = metrics.stats()
    recent.push(stats)
    if (recent.length > RECENT) recent.shift()
    nodes?.share(stats)
    if (server.peers.size === 0) return
    // Volatile: a dashboard that cannot keep up misses samples instead of queueing them.
    server.volatile.emit('stats', stats)
    if (nodes !== undefined) server.volatile.emit('nodes', nodes.snapshot())
  }, options.interval ?? 1000)
  timer.unref()
  return {
    server,
    async close() {
      clearInterval(timer)
      await nodes?.close()
      await server.close()
    },
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}
