// RtmpServer: RTMP/RTMPS ingest and playback, and HTTP-FLV playback, on AsyncServer.
// Publishers push one stream per key; players of a key get metadata, sequence headers and the GOP
// cache at once, then the live frames; a player that cannot keep up skips to a later keyframe.
import { EventEmitter } from 'node:events'
import { InvalidArgumentError } from '../errors.ts'
import { AsyncServer, type AsyncSocket, type ListenOptions } from '../socket/index.ts'
import { HttpFlvSession } from './http-flv-session.ts'
import { ServerContext } from './server-context.ts'
import { RtmpServerSession } from './server-session.ts'
import type {
  ResolvedOptions,
  RtmpServerEvents,
  RtmpServerOptions,
  RtmpSession,
  RtmpStats,
  RtmpStreamStats,
} from './server-types.ts'

const DEFAULTS: Omit<ResolvedOptions, 'authorize'> = {
  gopCache: true,
  maxGopBytes: 16 << 20,
  playerBufferBytes: 4 << 20,
  chunkSize: 4096,
  maxMessageSize: 8 << 20,
  takeover: 'stale',
  staleAfter: 5000,
  pingInterval: 10_000,
  pingTimeout: 10_000,
  idleTimeout: 30_000,
  handshakeTimeout: 10_000,
  windowAckSize: 2_500_000,
  playersPerTurn: 25,
}

function resolve(options: RtmpServerOptions): ResolvedOptions {
  const resolved = { ...DEFAULTS, ...options } as ResolvedOptions
  for (const name of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = resolved[name]
    const fallback = DEFAULTS[name]
    if (typeof fallback === 'number' && (!Number.isSafeInteger(value) || (value as number) < 1))
      throw new InvalidArgumentError(`RtmpServer: ${name} must be a positive integer, got ${String(value)}`)
  }
  if (resolved.chunkSize > 0x7fffffff)
    throw new InvalidArgumentError('RtmpServer: chunkSize is at most 2^31-1')
  if (!['stale', 'always', 'never'].includes(resolved.takeover))
    throw new InvalidArgumentError(`RtmpServer: takeover is 'stale', 'always' or 'never'`)
  if (resolved.authorize !== undefined && typeof resolved.authorize !== 'function')
    throw new InvalidArgumentError('RtmpServer: authorize must be a function')
  return resolved
}

export class RtmpServer extends EventEmitter<RtmpServerEvents> {
  readonly #ctx: ServerContext
  readonly #servers: AsyncServer[] = []

  constructor(options: RtmpServerOptions = {}) {
    super()
    this.#ctx = new ServerContext(resolve(options), (event, ...args) =>
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args),
    )
  }

  /** Accepts RTMP publishers and players (RTMPS with `tls`). Resolves with the bound port. */
  async listen(options: ListenOptions = {}): Promise<{ port: number }> {
    const ctx = this.#ctx
    const server = await AsyncServer.listen({ port: 1935, ...options }, (socket: AsyncSocket) => {
      void new RtmpServerSession(ctx, socket).run()
    })
    this.#servers.push(server)
    return { port: server.port }
  }

  /** Serves `GET /app/stream.flv` (HTTP-FLV) to players. Resolves with the bound port. */
  async listenHttpFlv(options: ListenOptions = {}): Promise<{ port: number }> {
    const ctx = this.#ctx
    const server = await AsyncServer.listen({ port: 8000, ...options }, (socket: AsyncSocket) => {
      void new HttpFlvSession(ctx, socket).run()
    })
    this.#servers.push(server)
    return { port: server.port }
  }

  /** Every open session (RTMP and HTTP-FLV). */
  sessions(): RtmpSession[] {
    return [...this.#ctx.sessions]
  }

  /** Ends the session with this id; false when there is none. */
  endSession(id: string): boolean {
    for (const session of this.#ctx.sessions) {
      if (session.id === id) {
        session.end()
        return true
      }
    }
    return false
  }

  stats(): RtmpStats {
    const ctx = this.#ctx
    const now = Date.now()
    let bytesIn = ctx.closedBytesIn
    let bytesOut = ctx.closedBytesOut
    let publishers = 0
    let players = 0
    for (const s of ctx.sessions) {
      bytesIn += s.bytesIn
      bytesOut += s.bytesOut
      if (s.action === 'publish') publishers++
      else if (s.action === 'play') players++
    }
    const streams: RtmpStreamStats[] = [...ctx.streams.values()].map((live) => ({
      app: live.app,
      name: live.name,
      publisher: live.publisher?.id,
      players: live.players.size,
      bitrate: live.bitrate,
      fps: live.fps,
      bytesIn: live.bytesIn,
      videoCodec: live.videoCodec,
      audioCodec: live.audioCodec,
      gopBytes: live.gopBytes,
      uptime: live.publisher ? now - live.publishedAt : 0,
    }))
    return { sessions: ctx.sessions.size, publishers, players, bytesIn, bytesOut, streams }
  }

  /** Stops listening and ends every session. */
  async close(): Promise<void> {
    this.#ctx.close()
    await Promise.all(this.#servers.map((s) => s.close()))
    this.#servers.length = 0
  }
}
