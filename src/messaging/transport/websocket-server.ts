// The WebSocket transport on the server: `ws` upgrades a path of an HTTP(S) server, and each socket
// becomes a Connection whose frames are WebSocket messages (one binary message = one envelope, no
// length prefix; with a client that offered batches, one batch envelope of several: ../wire/batch.ts).
// Text messages and bad envelopes close the socket with a protocol error; the send callback drives
// backpressure, so a reader that never reads is cut as a slow consumer.

import http from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'
import { type WebSocket, WebSocketServer } from 'ws'
import { ClosedError, ErrorCodes, ProtocolError } from '../../errors.ts'
import type { FrameCodec } from '../../framing/codec.ts'
import type { AsyncSocket } from '../../socket/index.ts'
import { startTimer } from '../../util/timeout.ts'
import { BATCH_MAX_BYTES, batchLimit, packBatches } from '../wire/batch.ts'
import { Kind } from '../wire/kinds.ts'
import { Connection, type ConnectionOwner } from './connection.ts'
import type { ListenAddress, Listener, ListenOptions } from './stream.ts'
import { deliver, eachFrame, SUBPROTOCOL } from './websocket-frames.ts'

/** Where a server takes WebSocket upgrades. */
export type WebSocketOptions = {
  /** The HTTP path that upgrades to wirekit. @default '/' */
  path?: string
}

/** Receives each upgraded socket and the address it came from. */
export type WebSocketAccept = (ws: WebSocket, remoteAddress: string | undefined) => void

// Close codes (RFC 6455 §7.4.1); the reason carries the WK_* code.
const NORMAL = 1000
const PROTOCOL_ERROR = 1002
const POLICY = 1008
const TOO_BIG = 1009
const LINGER_MS = 1000

const kConnection = Symbol('wirekit.connection')
type Tagged = WebSocket & { [kConnection]?: WebSocketConnection }

// Listeners are module-level: the connection is found through a symbol on the socket, no closure per peer.
function wsOnMessage(this: Tagged, data: Buffer, isBinary: boolean): void {
  this[kConnection]?.receive(data, isBinary)
}

function wsOnClose(this: Tagged, code: number): void {
  const conn = this[kConnection]
  if (conn === undefined || conn.closed) return
  conn.close(
    code === NORMAL || code === 1001 || code === 1005
      ? undefined
      : new ClosedError(ErrorCodes.CLOSED, `WebSocket closed by the peer (${code})`),
  )
}

function wsOnError(this: Tagged, error: Error & { code?: string }): void {
  const conn = this[kConnection]
  if (conn === undefined || conn.closed) return
  // ws has already answered (1009 for an oversize message, 1002 for a bad frame) and is closing.
  const code =
    error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? ErrorCodes.FRAME_TOO_LARGE : ErrorCodes.PROTOCOL
  conn.close(new ProtocolError(code, `Bad WebSocket frame: ${error.message}`))
}

/**
 * What the base class needs of a socket: to destroy it and to know its peer's address. A class, so an
 * idle connection holds no closure and context for `destroy`.
 */
class SocketFacade {
  readonly readEnded = false
  readonly remoteAddress: string | undefined
  readonly #ws: WebSocket
  constructor(ws: WebSocket, remoteAddress: string | undefined) {
    this.#ws = ws
    this.remoteAddress = remoteAddress
  }
  destroy(): void {
    this.#ws.terminate()
  }
}

/**
 * A Connection over one server-side `ws` socket. The session above writes length-prefixed frames as
 * it does on TCP; they go out one WebSocket message each (the prefix is not sent).
 */
export class WebSocketConnection extends Connection {
  readonly ws: Tagged
  /** The largest message accepted for now (lowered before login), or undefined for maxPayload. */
  #limit: number | undefined
  /** Agreed in the handshake: the largest batch the client takes (0: none) and the largest we take. */
  #sendBatch = 0
  #takeBatch = 0

  constructor(ws: WebSocket, codec: FrameCodec, owner: ConnectionOwner, remoteAddress: string | undefined) {
    super(new SocketFacade(ws, remoteAddress) as unknown as AsyncSocket, codec, owner)
    this.ws = ws as Tagged
  }

  override start(): void {
    const ws = this.ws
    ws[kConnection] = this
    ws.on('message', wsOnMessage)
    ws.on('close', wsOnClose)
    ws.on('error', wsOnError)
  }

  override limitFrames(max: number | undefined): void {
    this.#limit = max
  }

  /**
   * The HELLO's `batch` (what the client accepts): from now on envelopes may travel in batches both
   * ways. Returns the WELCOME's `batch` (what we accept), or undefined when the client offered none.
   */
  agreeBatches(offered: unknown, maxFrameLength: number): number | undefined {
    this.#sendBatch = batchLimit(offered, maxFrameLength)
    if (this.#sendBatch === 0) return undefined
    this.#takeBatch = Math.min(BATCH_MAX_BYTES, maxFrameLength)
    return this.#takeBatch
  }

  /** One WebSocket message: one envelope. */
  receive(data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    try {
      this.lastInbound = Date.now()
      if (!isBinary) {
        throw new ProtocolError(
          ErrorCodes.PROTOCOL,
          'Bad frame: a text WebSocket message (envelopes are binary)',
        )
      }
      const limit = this.#limit
      if (limit !== undefined && data.length > limit) {
        throw new ProtocolError(
          ErrorCodes.FRAME_TOO_LARGE,
          `Frame of ${data.length} bytes exceeds the limit of ${limit} before login`,
        )
      }
      deliver(this, data, this.#takeBatch)
      if (this.closed) return
      this.owner.onChunk(this)
      // Reading paused (rate limit): ws stops reading the socket, TCP slows the sender meanwhile.
      if (this.gate !== undefined) this.#pauseUntil(this.gate)
    } catch (error) {
      this.close(error as Error, this.owner.farewell(error as Error))
    }
  }

  #pauseUntil(gate: Promise<void>): void {
    this.ws.pause()
    void gate.then(() => {
      if (this.closed) return
      if (this.gate !== undefined) this.#pauseUntil(this.gate)
      else this.ws.resume()
    })
  }

  override write(data: Buffer): void {
    if (this.closed) return
    const bytes = data.length
    this.writingBytes += bytes
    this.lastOutbound = Date.now()
    this.#send(data, (error) => {
      this.writingBytes -= bytes
      if (error) this.close(error)
      else if (!this.closed) this.owner.onWritable(this)
    })
  }

  /**
   * Sends the frames of `data` as WebSocket messages (batched when agreed, else one each), corked into
   * one write; `done` after the last.
   */
  #send(data: Buffer, done: (error?: Error) => void): void {
    const ws = this.ws
    // ws writes each message as header + payload: corking the socket makes a batch one syscall.
    const socket = (ws as unknown as { _socket?: Duplex })._socket
    const send = (message: Buffer, last: boolean) =>
      ws.send(message, { binary: true }, last ? done : undefined)
    socket?.cork()
    try {
      if (this.#sendBatch > 0)
        packBatches(afterWelcome(data, send), this.#sendBatch, Buffer.allocUnsafe, send)
      else eachFrame(data, send)
    } finally {
      socket?.uncork()
    }
  }

  override close(error: Error | undefined, last?: Buffer): void {
    if (this.closed) return
    this.closed = true
    this.registry?.delete(this)
    const ws = this.ws
    if (last !== undefined && ws.readyState === ws.OPEN) {
      const code = error === undefined ? NORMAL : closeCodeFor(error)
      const reason = ((error as { code?: string } | undefined)?.code ?? '').slice(0, 120)
      const cancel = startTimer(LINGER_MS, () => ws.terminate())
      ws.once('close', cancel)
      this.#send(last, () => {})
      ws.close(code, reason)
    } else if (error === undefined && ws.readyState === ws.OPEN) {
      ws.close(NORMAL)
      startTimer(LINGER_MS, () => ws.terminate())
    } else {
      ws.terminate()
    }
    this.owner.onClose(this, error)
  }
}

/**
 * Sends a WELCOME at the head of `data` on its own and returns the rest. What follows it (a resumed
 * session's resends) then arrives in a later WebSocket message, so in a browser after the client's
 * connect() has resolved and the page has attached its listeners, as without batches.
 */
function afterWelcome(data: Buffer, send: (message: Buffer, last: boolean) => void): Buffer {
  if (data.length < 5 || data[4] !== Kind.WELCOME) return data
  const end = 4 + data.readUInt32BE(0)
  send(data.subarray(4, end), end >= data.length)
  return data.subarray(end)
}

function closeCodeFor(error: Error): number {
  const code = (error as { code?: string }).code
  if (code === ErrorCodes.FRAME_TOO_LARGE) return TOO_BIG
  if (error instanceof ProtocolError) return PROTOCOL_ERROR
  if (code === ErrorCodes.SERVER_CLOSING || code === ErrorCodes.SLOW_CONSUMER) return 1001
  return POLICY
}

function pathOf(url: string | undefined): string {
  const q = url?.indexOf('?') ?? -1
  return q === -1 ? (url ?? '/') : url!.slice(0, q)
}

/**
 * Takes upgrades of `path` on `server` (other paths are left to other upgrade listeners, or refused
 * when there are none). Returns a function that stops taking them.
 */
export function attachWebSocket(
  server: http.Server | https.Server,
  options: WebSocketOptions,
  maxPayload: number,
  accept: WebSocketAccept,
): () => void {
  const path = options.path ?? '/'
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    clientTracking: false,
    maxPayload,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  })
  const onUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathOf(request.url) !== path) {
      if (server.listenerCount('upgrade') === 1) refuse(socket, 404, 'Not Found')
      return
    }
    const offered = request.headers['sec-websocket-protocol']
    if (offered !== undefined && !offered.split(',').some((p) => p.trim() === SUBPROTOCOL)) {
      refuse(socket, 400, 'Bad Request')
      return
    }
    socket.on('error', noop)
    wss.handleUpgrade(request, socket, head, (ws) => {
      // ws listens for the socket's errors from here on; one listener less per idle connection.
      socket.off('error', noop)
      accept(ws, request.socket.remoteAddress)
    })
  }
  server.on('upgrade', onUpgrade)
  return () => {
    server.off('upgrade', onUpgrade)
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.on('error', noop)
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

/** An HTTP(S) server of our own that upgrades `websocket.path`; other requests get 426. */
export async function listenWebSocket(
  options: ListenOptions & { websocket: WebSocketOptions },
  maxPayload: number,
  accept: WebSocketAccept,
): Promise<Listener> {
  const onRequest = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' })
    res.end('This is a wirekit WebSocket endpoint\n')
  }
  const tls = options.tls
  const server = tls
    ? https.createServer({ key: tls.key, cert: tls.cert, ca: tls.ca, passphrase: tls.passphrase }, onRequest)
    : http.createServer(onRequest)
  server.on('clientError', (_error, socket) => socket.destroy())
  attachWebSocket(server, options.websocket, maxPayload, accept)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    const done = () => {
      server.off('error', reject)
      resolve()
    }
    if (options.path !== undefined) server.listen({ path: options.path, backlog: options.backlog }, done)
    else
      server.listen(
        { port: options.port ?? 0, host: options.host ?? '127.0.0.1', backlog: options.backlog },
        done,
      )
  })
  const raw = server.address()
  const address: ListenAddress =
    typeof raw === 'string' || raw === null ? { path: String(raw) } : { port: raw.port, host: raw.address }
  return {
    address,
    close: (linger) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.closeAllConnections()
          resolve()
        }, linger)
        timer.unref()
        server.close(() => {
          clearTimeout(timer)
          resolve()
        })
        server.closeIdleConnections()
      }),
  }
}

function noop(): void {}
