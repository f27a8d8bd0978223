// AsyncServer: accepts TCP, TLS or Unix-socket connections and hands each one over as an AsyncSocket,
// once it is usable (TLS handshake and trust checks done). Caps connections and drains on close.
import { EventEmitter, once } from 'node:events'
import net from 'node:net'
import tls from 'node:tls'
import { ConnectError, ErrorCodes, InvalidArgumentError, type WirekitError } from '../errors.ts'
import { delay } from '../util/timeout.ts'
import { AsyncSocket, wrapReceiving } from './async-socket.ts'
import { debug } from './diagnostics.ts'
import { connectError } from './map-error.ts'
import { checkNumber, checkSocketOptions, type SocketOptions } from './options.ts'
import { ReceiveBuffer } from './receive-buffer.ts'
import { serverOptions, type TlsOptions, validateTlsOptions } from './tls.ts'

/** Where and how to listen. Give `port` (0 = any free port) and `host`, or `path`. */
export type ListenOptions = SocketOptions & {
  /** @default 0 */
  port?: number
  /** @default '127.0.0.1' (loopback only; pass '::' or '0.0.0.0' to accept from the network) */
  host?: string
  /** A Unix domain socket path (instead of host and port). */
  path?: string
  /** TLS for every accepted connection (`key` and `cert` required; `requestCert` for mTLS). */
  tls?: TlsOptions
  /** Pending-connection queue length. @default 511 */
  backlog?: number
  /** Connections beyond this are closed on accept and reported by 'refused'. @default unlimited */
  maxConnections?: number
}

/** Where the server listens. */
export type ServerAddress = { address: string; port: number; family: string } | { path: string }

export type AsyncServerEvents = {
  /** A usable connection (also passed to the onConnection callback). */
  connection: [socket: AsyncSocket]
  /** A connection failed before it was usable (TLS, trust checks) or its handler threw. */
  clientError: [error: WirekitError]
  /** A connection was closed on accept because `maxConnections` were open (WK_MAX_CONNECTIONS). */
  refused: [error: WirekitError]
  /** The server stopped. */
  close: []
}

export class AsyncServer extends EventEmitter<AsyncServerEvents> {
  readonly #server: net.Server
  readonly #sockets = new Set<AsyncSocket>()
  /** Every accepted TCP connection, including TLS ones still in their handshake: close() ends them all. */
  readonly #raw = new Set<net.Socket>()
  /** TLS servers: each TCP connection by its peer's address, so the TLSSocket over it finds it. */
  readonly #rawByPeer = new Map<string, net.Socket>()
  readonly #onConnection: (socket: AsyncSocket) => unknown
  /** Every socket's 'close' listener (called with the socket as `this`): one function, not one per socket. */
  readonly #forget: (this: AsyncSocket) => void
  readonly #options: ListenOptions
  #closing: Promise<void> | undefined

  /** Starts listening; resolves once the address is bound. */
  static async listen(
    options: ListenOptions,
    onConnection: (socket: AsyncSocket) => unknown,
  ): Promise<AsyncServer> {
    if (options === null || typeof options !== 'object')
      throw new InvalidArgumentError('listen options required')
    if (typeof onConnection !== 'function')
      throw new InvalidArgumentError('listen() needs an onConnection callback')
    checkSocketOptions(options)
    checkNumber(options.backlog, 'backlog', 0)
    checkNumber(options.maxConnections, 'maxConnections', 1)
    if (options.tls) {
      validateTlsOptions(options.tls, 'listen')
      if (!options.tls.key || !options.tls.cert)
        throw new InvalidArgumentError('listen: tls needs key and cert')
    }
    const server = new AsyncServer(options, onConnection)
    await server.#listen()
    return server
  }

  private constructor(options: ListenOptions, onConnection: (socket: AsyncSocket) => unknown) {
    super()
    this.#options = options
    this.#onConnection = onConnection
    const sockets = this.#sockets
    this.#forget = function (this: AsyncSocket): void {
      sockets.delete(this)
    }
    this.#server = options.tls
      ? tls.createServer({ ...serverOptions(options.tls), allowHalfOpen: true }, (socket) =>
          this.#accept(socket),
        )
      : // Paused on connect: nothing is read before the connection moves to a socket with `onread`.
        net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.#acceptPlain(socket))
    this.#server.on('connection', (raw: net.Socket) => {
      this.#raw.add(raw)
      const peer = options.tls && raw.remotePort !== undefined ? peerKey(raw) : undefined
      if (peer !== undefined) this.#rawByPeer.set(peer, raw)
      raw.once('close', () => {
        this.#raw.delete(raw)
        if (peer !== undefined && this.#rawByPeer.get(peer) === raw) this.#rawByPeer.delete(peer)
      })
    })
    // Node counts a TLS server's connections; plaintext ones move to sockets of our own, so we count.
    if (options.maxConnections !== undefined && options.tls)
      this.#server.maxConnections = options.maxConnections
    this.#server.on('drop', (data) => {
      this.#refuse(data?.remoteAddress ? `${data.remoteAddress}:${data.remotePort}` : 'a client')
    })
    this.#server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
      const where = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'a client'
      this.emit('clientError', connectError(error, where))
    })
  }

  /** The bound address: host, port and family, or the Unix path. */
  get address(): ServerAddress {
    const address = this.#server.address()
    if (address === null) throw new InvalidArgumentError('the server is not listening')
    return typeof address === 'string' ? { path: address } : address
  }

  /** The bound port (0 for a Unix socket). */
  get port(): number {
    const address = this.address
    return 'port' in address ? address.port : 0
  }

  /** Connections currently handed out and not yet closed. */
  get connections(): number {
    return this.#sockets.size
  }

  /** True until close() is called. */
  get listening(): boolean {
    return this.#server.listening
  }

  /**
   * Stops accepting, waits up to `drain` ms for open connections to close by themselves, then
   * destroys the rest. Resolves once everything is closed.
   */
  close(options: { drain?: number } = {}): Promise<void> {
    checkNumber(options.drain, 'close({ drain })', 0, false)
    this.#closing ??= this.#close(options.drain ?? 0)
    return this.#closing
  }

  async #close(drain: number): Promise<void> {
    const closed = this.#server.listening ? once(this.#server, 'close') : Promise.resolve()
    this.#server.close()
    if (drain > 0 && this.#sockets.size > 0) {
      const controller = new AbortController()
      const allClosed = Promise.all([...this.#sockets].map((socket) => once(socket, 'close')))
      await Promise.race([allClosed, delay(drain, controller.signal).catch(() => {})])
      controller.abort()
    }
    for (const socket of this.#sockets) socket.destroy()
    for (const raw of this.#raw) raw.destroy()
    await closed
    this.emit('close')
  }

  async #listen(): Promise<void> {
    const { port = 0, host = '127.0.0.1', path, backlog } = this.#options
    const server = this.#server
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error & { code?: string }): void => {
        server.off('listening', onListening)
        reject(
          new ConnectError(
            ErrorCodes.SOCKET_FAILED,
            `cannot listen on ${path ?? `${host}:${port}`}: ${error.code ?? error.message}`,
            {
              cause: error,
            },
          ),
        )
      }
      const onListening = (): void => {
        server.off('error', onError)
        resolve()
      }
      server.once('error', onError)
      server.once('listening', onListening)
      server.listen(path !== undefined ? { path, backlog } : { port, host, backlog })
    })
    // After listening, an error is about one accept (EMFILE…): report it, keep serving.
    server.on('error', (error) => this.emit('clientError', connectError(error, 'accept')))
    debug('server listening on %o', server.address())
  }

  #refuse(from: string): void {
    this.emit(
      'refused',
      new ConnectError(
        ErrorCodes.MAX_CONNECTIONS,
        `refused ${from}: ${this.#options.maxConnections} connections open`,
      ),
    )
  }

  /** A plaintext connection: refused past maxConnections, else read through `onread` when possible. */
  #acceptPlain(stream: net.Socket): void {
    const max = this.#options.maxConnections
    if (max !== undefined && this.#sockets.size >= max && !this.#closing) {
      const from = stream.remoteAddress ? `${stream.remoteAddress}:${stream.remotePort}` : 'a client'
      stream.destroy()
      this.#refuse(from)
      return
    }
    const receiver = new ReceiveBuffer()
    const adopted = this.#closing ? undefined : adopt(stream, receiver)
    this.#accept(adopted ?? stream, adopted ? receiver : undefined)
    // Not adopted: the connection, paused on connect, reads through 'data' events from now on.
    if (adopted === undefined) stream.resume()
  }

  #accept(stream: net.Socket, receiver?: ReceiveBuffer): void {
    if (this.#closing) {
      stream.destroy()
      return
    }
    const options = { ...this.#options, isServer: true, tls: this.#options.tls }
    // A TLS connection's own TCP socket lets reset() send a real RST.
    const rawSocket = this.#options.tls ? this.#rawByPeer.get(peerKey(stream)) : undefined
    const socket = receiver
      ? wrapReceiving(stream, options, receiver)
      : AsyncSocket.wrap(stream, { ...options, rawSocket })
    this.#sockets.add(socket)
    socket.on('close', this.#forget)
    // A plaintext socket is usable at once; asking for `ready` would keep a promise on it for nothing.
    if (socket.state === 'connected') {
      queueMicrotask(() => this.#handOver(socket))
      return
    }
    socket.ready.then(
      () => this.#handOver(socket),
      (error: WirekitError) => this.emit('clientError', error),
    )
  }

  async #handOver(socket: AsyncSocket): Promise<void> {
    this.emit('connection', socket)
    try {
      await this.#onConnection(socket)
    } catch (error) {
      const failure = error as WirekitError
      this.emit('clientError', failure)
      socket.destroy()
    }
  }
}

/** A connection's peer as `address|port` (a TLSSocket reports the same as the TCP socket under it). */
function peerKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`
}

/** What an accepted net.Socket holds underneath: the handle Node reads and writes through. */
type HandleHolder = { _handle?: { readStart?: unknown; useUserBuffer?: unknown } | null }

/**
 * Node gives `onread` only to sockets it creates from options, never to accepted ones. So the handle
 * of an accepted connection (not reading yet: the server pauses on connect) moves into a new socket
 * made with `onread`, the way Node moves a socket to a worker thread; the emptied original is
 * destroyed, which also settles the server's own connection count. Returns undefined, leaving
 * `raw` untouched, when the handle is not what this expects: the connection then reads through
 * 'data' events.
 */
function adopt(raw: net.Socket, receiver: ReceiveBuffer): net.Socket | undefined {
  const holder = raw as unknown as HandleHolder
  const handle = holder._handle
  if (typeof handle?.readStart !== 'function' || typeof handle.useUserBuffer !== 'function') return undefined
  holder._handle = null
  raw.destroy()
  const options = {
    handle,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    onread: ReceiveBuffer.onreadForNewSocket(),
  }
  const socket = new net.Socket(options as unknown as net.SocketConstructorOpts)
  receiver.bind(socket)
  return socket
}
