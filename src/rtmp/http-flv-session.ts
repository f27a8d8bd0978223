// One HTTP-FLV player: `GET /app/stream.flv` answered with an endless FLV body (flv.js, ffplay, VLC).
// A small HTTP/1.1 responder on AsyncSocket: one request per connection, the body ends when the
// connection does (no Content-Length), CORS open so a page on another origin can play it.
// The same request with `Upgrade: websocket` is WebSocket-FLV (flv.js's ws:// source): the same
// bytes, the FLV header and then each tag in its own binary frame.

import { ErrorCodes, WirekitError } from '../errors.ts'
import type { AsyncSocket } from '../socket/index.ts'
import { flvHeader } from './flv.ts'
import type { LiveStream, Subscriber } from './live-stream.ts'
import { FLV_ENCODING, type MediaBatch, WS_ENCODING } from './media-item.ts'
import { PlayerGate, take } from './player-gate.ts'
import type { ServerContext, SweptSession } from './server-context.ts'
import type { RtmpAction } from './server-types.ts'
import { WsOpcode, wsAccept, wsExtendedLength, wsFrame, wsHeader, wsUnmask } from './websocket.ts'

const MAX_REQUEST_HEAD = 8192
const CORS = 'Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Headers: Range\r\n'
/** The largest frame a WebSocket-FLV player may send (it has nothing to say but ping and close). */
const MAX_WS_FRAME = 125

export class HttpFlvSession implements SweptSession, Subscriber {
  readonly id: string
  protocol: 'http-flv' | 'ws-flv' = 'http-flv'
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
      const wsKey = upgradeKey(head)
      const header = flvHeader(true, live.hasVideo || live.videoConfig !== undefined)
      if (wsKey !== undefined) {
        this.protocol = 'ws-flv'
        this.#write(wsAccept(wsKey))
        this.#write(wsFrame(WsOpcode.BINARY, header))
      } else {
        this.#write(
          Buffer.from(
            `HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache\r\nConnection: close\r\n${CORS}\r\n`,
            'latin1',
          ),
        )
        this.#write(header)
      }
      this.action = 'play'
      this.#live = live
      live.addPlayer(this)
      this.#join(live)
      this.#ctx.emit('play', this)
      if (wsKey !== undefined) return await this.#readWebSocket()
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

  /** A WebSocket-FLV player's frames: pings are answered, a close ends the session, nothing is kept. */
  async #readWebSocket(): Promise<void> {
    const socket = this.#socket
    for (;;) {
      const first = await socket.read({ length: 2 })
      const frame = wsHeader(first)
      const length =
        frame.extra > 0 ? wsExtendedLength(await socket.read({ length: frame.extra })) : frame.length
      if (!frame.masked || length > MAX_WS_FRAME) {
        // 1002: protocol error (a client must mask); 1009: too big. Either way this player is done.
        return this.#finish(frame.masked ? 1009 : 1002)
      }
      const mask = await socket.read({ length: 4 })
      const payload = length > 0 ? wsUnmask(await socket.read({ length }), mask) : Buffer.alloc(0)
      this.bytesIn += 6 + frame.extra + length
      if (frame.opcode === WsOpcode.CLOSE) return this.#finish()
      if (frame.opcode === WsOpcode.PING) this.#write(wsFrame(WsOpcode.PONG, payload))
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
    // No promise per write: a failed write closes the socket, which ends this session ('close').
    this.#socket.send(bytes)
  }

  #join(live: LiveStream): void {
    this.#gate = new PlayerGate()
    const { encode } = this.protocol === 'ws-flv' ? WS_ENCODING : FLV_ENCODING
    for (const item of live.joinItems()) {
      if (item.keyframe) this.#gate.waiting = false
      this.#write(encode(item))
    }
  }

  deliver(batch: MediaBatch): void {
    const live = this.#live
    if (live === undefined) return
    const encoding = this.protocol === 'ws-flv' ? WS_ENCODING : FLV_ENCODING
    const { playerBufferBytes } = this.#ctx.options
    const pending = this.#socket.pendingWriteBytes
    const bytes = take(this.#gate, batch, pending, playerBufferBytes, live.hasVideo, encoding)
    if (bytes !== undefined) this.#write(bytes)
  }

  published(): void {}

  /** An FLV body has no way to say "paused": it ends with the stream. */
  unpublished(): void {
    this.#finish()
  }

  sweep(): void {}

  /** Ends the response after what is queued (WebSocket: with a close frame carrying `wsCode`). */
  #finish(wsCode = 1000): void {
    this.#leave()
    if (this.#closed) return
    if (this.protocol === 'ws-flv')
      this.#write(wsFrame(WsOpcode.CLOSE, Buffer.from([wsCode >> 8, wsCode & 0xff])))
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

/** The Sec-WebSocket-Key of a WebSocket upgrade request, or undefined for a plain GET. */
function upgradeKey(head: Buffer): string | undefined {
  let upgrade = false
  let key: string | undefined
  for (const line of head.toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === 'upgrade') upgrade = value.toLowerCase() === 'websocket'
    else if (name === 'sec-websocket-key') key = value
  }
  return upgrade && key !== undefined && /^[A-Za-z0-9+/]{22}==$/.test(key) ? key : undefined
}
