// `wirekit serve`: a chat server on MessageServer. Clients authenticate with { name }, join rooms, say
// lines to a room, and ask who is there. With --redis, rooms and sessions are shared by every node.

import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type { ListenOptions, Peer } from '../messaging/index.ts'
import { MessageServer, RedisAdapter } from '../messaging/index.ts'

export type ServeOptions = {
  port: number
  host: string
  path?: string
  tlsCert?: string
  tlsKey?: string
  redis?: string
  /** For tests and embedding: resolve once listening instead of waiting for a signal. */
  signal?: AbortSignal
  log?: (line: string) => void
}

/** A chat line as it travels to clients. */
export type ChatLine = { room: string; from: string; text: string; at: number }

/** Builds the chat server's behaviour onto a MessageServer (used by `serve` and by tests). */
export function chatServer(server: MessageServer, log: (line: string) => void): MessageServer {
  const nameOf = (peer: Peer) => String(peer.identity)
  server.on('connection', (peer: Peer) => {
    log(`+ ${nameOf(peer)} (${peer.id})`)
    peer.on('join', (room: unknown) => {
      if (typeof room !== 'string' || room.length === 0 || room.length > 64) return
      peer.join(`room:${room}`)
      server.to(`room:${room}`).emit('system', { room, text: `${nameOf(peer)} joined`, at: Date.now() })
    })
    peer.on('leave', (room: unknown) => {
      if (typeof room !== 'string') return
      peer.leave(`room:${room}`)
      server.to(`room:${room}`).emit('system', { room, text: `${nameOf(peer)} left`, at: Date.now() })
    })
    peer.on('say', (line: { room?: unknown; text?: unknown }) => {
      if (typeof line?.room !== 'string' || typeof line.text !== 'string') return
      if (line.room.length === 0 || line.room.length > 64) return
      // Saying into a room joins it: after a server restart a client's queued lines can arrive before its
      // new `join`, and they must not be dropped.
      if (!peer.rooms.has(`room:${line.room}`)) peer.join(`room:${line.room}`)
      const out: ChatLine = {
        room: line.room,
        from: nameOf(peer),
        text: line.text.slice(0, 4000),
        at: Date.now(),
      }
      server.to(`room:${line.room}`).emit('message', out)
    })
    peer.on('close', () => log(`- ${nameOf(peer)} (${peer.id})`))
  })
  // Everyone in the room on every node (with --redis), connected or about to resume.
  server.handle('who', async (room: unknown) => {
    if (typeof room !== 'string') return []
    const peers = await server.fetchPeers(`room:${room}`)
    return peers.map((p) => String(p.identity)).sort()
  })
  return server
}

export async function serve(options: ServeOptions): Promise<MessageServer> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`))
  const retention = 60_000
  const adapter = options.redis ? await redisAdapter(options.redis, retention) : undefined
  const server = chatServer(
    new MessageServer({
      adapter,
      retention,
      authenticate: (credentials) => {
        const name = (credentials as { name?: unknown } | undefined)?.name
        return typeof name === 'string' && /^[\w.-]{1,32}$/.test(name) ? name : false
      },
    }),
    log,
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
  if (options.signal) return server
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])
  log('closing (draining for up to 5 s)…')
  await server.close({ drain: 5000 })
  await adapter?.close()
  return server
}

async function redisAdapter(url: string, retention: number): Promise<RedisAdapter> {
  const adapter = new RedisAdapter({ redis: url, retention })
  await adapter.ready()
  return adapter
}
