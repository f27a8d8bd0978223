// One HTTP-FLV player: `GET /app/stream.flv` answered with an endless FLV body (flv.js, ffplay, VLC).
// A small HTTP/1.1 responder on AsyncSocket: one request per connection, the body ends when the
// connection does (no Content-Length), CORS open so a page on another origin can play it.

import { ErrorCodes, WirekitError } from '../errors.ts'
import type { AsyncSocket } from '../socket/index.ts'
import { flvHeader } from './flv.ts'
import type { LiveStream, Subscriber } from './live-stream.ts'
import { flvBytes, type MediaItem } from './media-item.ts'
import { PlayerGate } from './player-gate.ts'
import type { ServerContext, SweptSession } from './server-context.ts'
import type { RtmpAction } from './server-types.ts'

const noop = (): void => {}
const MAX_REQUEST_HEAD = 8192
const CORS = 'Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Headers: Range\r\n'

export class HttpFlvSession implements SweptSession, Subscriber {
  readonly id: string
  readonly protocol = 'http-flv' as const
  app = ''
  stream = ''
  query: Record<string, string> = {}
  action: RtmpAction | undefined
  bytesIn = 0
  bytesOut = 0
  readonly #ctx: ServerContext
  readonly #socket: AsyncSocket
  #live: LiveStream | undefined
  #gate = new PlayerGate()
  #closed = false

  constructor(ctx: ServerContext, socket: AsyncSocket) {
    this.#ctx = ctx
    this.#socket = socket
    this.id = ctx.nextId()
    ctx.add(this)
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress
  }
  get pendingBytes(): number {
    return this.#socket.pendingWriteBytes
  }
  get skippedFrames(): number {
    return this.#gate.skipped
  }

  async run(): Promise<void> {
    const socket = this.#socket
    try {
      const head = await socket.read({
        until: '\r\n\r\n',
        maxLength: MAX_REQUEST_HEAD,
        timeout: this.#ctx.options.handshakeTimeout,
      })
      this.bytesIn += head.length
      const [method, target] = head.toString('latin1', 0, head.indexOf('\r\n')).split(' ')
      if (method === 'OPTIONS') return this.#respond('204 No Content')
      if (method !== 'GET') return this.#respond('405 Method Not Allowed')
      const url = new URL(target ?? '/', 'http://localhost')
      const segments = url.pathname.split('/').filter((s) => s !== '')
      const file = segments.pop() ?? ''
      if (segments.length === 0 || !file.endsWith('.flv')) return this.#respond('404 Not Found')
      this.app = segments.map(decodeURIComponent).join('/')
      this.stream = decodeURIComponent(file.slice(0, -4))
      this.query = Object.fromEntries(url.searchParams)
      const allowed = await this.#ctx.authorize({
        app: this.app,
        stream: this.stream,
        query: this.query,
        action: 'play',
        session: this,
      })
      if (this.#closed) return
      if (!allowed) return this.#respond('403 Forbidden')
      const live = this.#ctx.streams.get(`${this.app}/${this.stream}`)
      if (live?.publisher === undefined) return this.#respond('404 Not Found')
      this.#write(
        Buffer.from(
          `HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache\r\nConnection: close\r\n${CORS}\r\n`,
          'latin1',
        ),
      )
      this.#write(flvHeader(true, live.hasVideo || live.videoConfig !== undefined))
      this.action = 'play'
      this.#live = live
      live.players.add(this)
      this.#join(live)
      this.#ctx.emit('play', this)
      // The request is all a player sends; reading on is how its close is noticed.
      for (;;) this.bytesIn += (await socket.read()).length
    } catch (error) {
      const failure = error as WirekitError
      if (
        failure instanceof WirekitError &&
        failure.code !== ErrorCodes.CLOSED &&
        failure.code !== ErrorCodes.CONNECTION_RESET
      )
        this.#ctx.failed(failure, this)
      this.end()
    }
  }

  #respond(status: string): void {
    this.#write(
      Buffer.from(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n${CORS}\r\n`, 'latin1'),
    )
    this.#finish()
  }

  #write(bytes: Buffer): void {
    if (this.#closed) return
    this.bytesOut += bytes.length
    this.#socket.write(bytes).catch(noop)
  }

  #join(live: LiveStream): void {
    this.#gate = new PlayerGate()
    for (const item of live.joinItems()) {
      if (item.keyframe) this.#gate.waiting = false
      this.#write(flvBytes(item))
    }
  }

  deliver(item: MediaItem): void {
    if (
      this.#gate.admit(
        item,
        this.#socket.pendingWriteBytes,
        this.#ctx.options.playerBufferBytes,
        this.#live!.hasVideo,
      )
    )
      this.#write(flvBytes(item))
  }

  published(): void {}

  /** An FLV body has no way to say "paused": it ends with the stream. */
  unpublished(): void {
    this.#finish()
  }

  sweep(): void {}

  /** Ends the response after what is queued. */
  #finish(): void {
    this.#leave()
    if (this.#closed) return
    this.#closed = true
    this.#ctx.remove(this)
    const socket = this.#socket
    socket.end().then(
      () => socket.destroy(),
      () => socket.destroy(),
    )
  }

  #leave(): void {
    const live = this.#live
    if (live === undefined) return
    this.#live = undefined
    this.action = undefined
    live.players.delete(this)
    this.#ctx.emit('stop', this)
    this.#ctx.release(live)
  }

  end(): void {
    this.#leave()
    if (this.#closed) return
    this.#closed = true
    this.#ctx.remove(this)
    this.#socket.destroy()
  }
}
