// AsyncSocket: CocoaAsyncSocket's model (queued reads and writes with tags and timeouts, delegate
// events, TLS direct or upgraded in place) as promises over node:net and node:tls.
//
//   connecting ──connect──▶ (securing ──handshake + trust checks──▶) connected ──▶ closed
//                                  ▲ startTLS ───────────────────────────┘
//
// This file is the facade and the state machine; its pieces live beside it: dial.ts (connect options,
// connect/handshake deadlines), upgrade.ts (TLS handshake, startTLS hand-over), deadlines.ts (per-read
// and per-write timeouts and signals), read-queue.ts / write-queue.ts (the queues), socket-errors.ts.
import { EventEmitter } from 'node:events'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { type AbortError, type ClosedError, InvalidArgumentError, type WirekitError } from '../errors.ts'
import type { FrameCodec } from '../framing/codec.ts'
import { armRead, armWrite } from './deadlines.ts'
import { closeChannel, connectChannel, debug } from './diagnostics.ts'
import { armConnect, armHandshake, dial } from './dial.ts'
import { readFrames, type WriteFrameOptions, writeFrame } from './frames.ts'
import { connectError, ioError } from './map-error.ts'
import {
  type ConnectOptions,
  checkNumber,
  checkSignal,
  checkSocketOptions,
  DEFAULTS,
  type ReadOptions,
  type ReadTimeoutHandler,
  type SocketOptions,
  type WriteOptions,
  type WriteTimeoutHandler,
} from './options.ts'
import { MAX_READ_LENGTH, toDelimiter } from './read-args.ts'
import { type PendingRead, ReadQueue, type ReadQueueHost } from './read-queue.ts'
import type { ReceiveBuffer } from './receive-buffer.ts'
import { abortError, closedError, readyError } from './socket-errors.ts'
import type { AsyncSocketEvents, SocketState, WrapOptions } from './socket-types.ts'
import { checkPeer, type TlsOptions, validateTlsOptions } from './tls.ts'
import { handOver, handshake } from './upgrade.ts'
import { type PendingWrite, WriteQueue, type WriteQueueHost } from './write-queue.ts'

export type { AsyncSocketEvents, SocketState, WrapOptions } from './socket-types.ts'

/**
 * Wraps a connected plaintext socket created with `receiver.onread` (AsyncServer's accepted sockets).
 * Internal: not exported from the package.
 */
export let wrapReceiving: (stream: net.Socket, options: WrapOptions, receiver: ReceiveBuffer) => AsyncSocket

/**
 * The AsyncSocket a stream belongs to. The stream listeners are module-level functions that find
 * their socket here (as ws does), so an idle connection carries no closure per listener.
 */
const kOwner = Symbol('wirekit.asyncSocket')
type Owned = net.Socket & { [kOwner]?: AsyncSocket }

export class AsyncSocket extends EventEmitter<AsyncSocketEvents> {
  /** Extends a read timeout instead of failing it: return extra milliseconds. */
  onReadTimeout: ReadTimeoutHandler | undefined
  /** Extends a write timeout instead of failing it: return extra milliseconds. */
  onWriteTimeout: WriteTimeoutHandler | undefined

  /** The stream bytes travel through: the TCP/Unix socket, or the TLS socket over it. */
  #stream: net.Socket
  /** The TCP or Unix socket underneath. */
  readonly #raw: net.Socket
  /** Chooses where the kernel writes reads of a plaintext socket we opened (net's `onread`). */
  readonly #receiver: ReceiveBuffer | undefined
  readonly #reads: ReadQueue<AsyncSocket>
  readonly #writes: WriteQueue<AsyncSocket>
  /** Made when first asked for: most accepted sockets are ready at once and nobody asks. */
  #ready: Promise<void> | undefined
  #settleReady: PromiseWithResolvers<void> | undefined
  /** The socket became usable once: `ready` resolves (a later close does not reject it). */
  #wasReady = false
  #state: SocketState = 'connecting'
  readonly #isServer: boolean
  readonly #host: string | undefined
  readonly #where: string
  #secure = false
  #upgrading = false
  #writeEnded = false
  #readEnded = false
  #closing = false
  #closed = false
  /** The failure that closed (or is closing) the socket: pending operations reject with it. */
  #error: WirekitError | undefined
  /** Reported by the 'close' event: a failure, not a deliberate destroy() or reset(). */
  #closeError: WirekitError | undefined
  #bytesRead = 0
  #bytesWritten = 0
  #cancelTimer: () => void = noop
  /**
   * A 'read' listener may exist. Checking for listeners costs a dictionary lookup, a tenth of a small
   * read, so reads look at this flag first; it only ever turns on.
   */
  #readObserved = false

  /** Turns #readObserved on when a 'read' listener is added (the socket's own 'newListener' hook). */
  static readonly #watchListeners = function (this: AsyncSocket, event: string | symbol): void {
    if (event === 'read') this.#readObserved = true
  }

  /** Connects and resolves once the socket is usable (after TLS and trust checks when `tls` is set). */
  static async connect(options: ConnectOptions): Promise<AsyncSocket> {
    const socket = AsyncSocket.open(options)
    await socket.ready
    return socket
  }

  /**
   * Starts connecting and returns at once, so reads and writes can be queued before the connection
   * is up; they run once it is. `socket.ready` settles with the outcome.
   */
  static open(options: ConnectOptions): AsyncSocket {
    const { stream, receiver, tls: tlsOptions, host, where } = dial(options)
    const socket = new AsyncSocket(stream, stream, options, false, host, where, receiver)
    socket.#connect(tlsOptions, options)
    return socket
  }

  /** Wraps a connected net.Socket or TLSSocket (servers do this for every accepted connection). */
  static wrap(stream: net.Socket, options: WrapOptions = {}): AsyncSocket {
    return AsyncSocket.#wrap(stream, options, undefined)
  }

  static {
    // For AsyncServer only: a socket it created with `onread` reads through `receiver`.
    wrapReceiving = (stream, options, receiver) => AsyncSocket.#wrap(stream, options, receiver)
  }

  static #wrap(stream: net.Socket, options: WrapOptions, receiver: ReceiveBuffer | undefined): AsyncSocket {
    checkSocketOptions(options)
    const raw = options.rawSocket ?? stream
    if (!(raw instanceof net.Socket)) throw new InvalidArgumentError('wrap: rawSocket must be a net.Socket')
    // join() builds one flat string; a template would keep a rope of three pieces per socket.
    const where = stream.remoteAddress
      ? [stream.remoteAddress, stream.remotePort].join(':')
      : 'unix socket peer'
    const isServer = options.isServer ?? false
    const socket = new AsyncSocket(stream, raw, options, isServer, options.host, where, receiver)
    if (options.noDelay ?? true) stream.setNoDelay?.(true)
    if (options.keepAlive) stream.setKeepAlive?.(true, options.keepAliveInitialDelay ?? 0)
    if (stream instanceof tls.TLSSocket) {
      socket.#secure = true
      socket.#state = 'securing'
      socket.#trust(stream, options.tls ?? {}).then(
        () => socket.#becomeReady(true),
        (error: WirekitError) => socket.destroy(error),
      )
    } else socket.#becomeReady(false)
    return socket
  }

  private constructor(
    stream: net.Socket,
    raw: net.Socket,
    options: SocketOptions,
    isServer: boolean,
    host: string | undefined,
    where: string,
    receiver?: ReceiveBuffer,
  ) {
    super()
    this.#stream = stream
    this.#raw = raw
    this.#receiver = receiver
    this.#isServer = isServer
    this.#host = host
    this.#where = where
    this.onReadTimeout = options.onReadTimeout
    this.onWriteTimeout = options.onWriteTimeout
    this.#reads = new ReadQueue(
      this,
      AsyncSocket.#readHost,
      options.readHighWaterMark ?? DEFAULTS.readHighWaterMark,
    )
    this.#writes = new WriteQueue(
      this,
      AsyncSocket.#writeHost,
      options.writeHighWaterMark ?? DEFAULTS.writeHighWaterMark,
      options.maxWriteQueue ?? DEFAULTS.maxWriteQueue,
    )
    this.#listen(stream)
    receiver?.attach(this, AsyncSocket.#received, this.#reads)
    // 'newListener' is EventEmitter's own event, outside AsyncSocketEvents.
    ;(this as EventEmitter).on('newListener', AsyncSocket.#watchListeners)
  }

  /** Settles when the socket is usable: connected, and secured and trusted when TLS is on. */
  get ready(): Promise<void> {
    let ready = this.#ready
    if (ready === undefined) {
      if (this.#wasReady) ready = Promise.resolve()
      else if (this.#closed) ready = Promise.reject(readyError(this.#error, this.#where))
      else {
        this.#settleReady = Promise.withResolvers<void>()
        ready = this.#settleReady.promise
      }
      // Nobody has to await `ready`: its failure also reaches every queued operation and 'close'.
      ready.catch(noop)
      this.#ready = ready
    }
    return ready
  }

  get state(): SocketState {
    return this.#state
  }
  get isSecure(): boolean {
    return this.#secure && this.#state === 'connected'
  }
  /** True once the peer's FIN arrived: no more bytes will come (buffered ones are still readable). */
  get readEnded(): boolean {
    return this.#readEnded
  }
  /** True once end() was called: no more writes are accepted. */
  get writeEnded(): boolean {
    return this.#writeEnded
  }
  /** True when this end accepted the connection. */
  get isServer(): boolean {
    return this.#isServer
  }
  /** Application bytes received (after TLS decryption). */
  get bytesRead(): number {
    return this.#bytesRead
  }
  /** Application bytes whose writes completed. */
  get bytesWritten(): number {
    return this.#bytesWritten
  }
  /** Unread bytes held in user space. */
  get bufferedBytes(): number {
    return this.#reads.buffered
  }
  /** Bytes of writes not yet taken by the kernel (in the stream plus waiting in our queue). */
  get pendingWriteBytes(): number {
    return (this.#closed ? 0 : this.#stream.writableLength) + this.#writes.waitingBytes
  }
  /** Bytes of writes waiting in our queue (past the high-water mark), not yet handed to the stream. */
  get queuedWriteBytes(): number {
    return this.#writes.waitingBytes
  }
  get localAddress(): string | undefined {
    return this.#raw.localAddress
  }
  get localPort(): number | undefined {
    return this.#raw.localPort
  }
  get remoteAddress(): string | undefined {
    return this.#raw.remoteAddress
  }
  get remotePort(): number | undefined {
    return this.#raw.remotePort
  }
  get remoteFamily(): string | undefined {
    return this.#raw.remoteFamily
  }
  /** The negotiated ALPN protocol, or false. */
  get alpnProtocol(): string | false {
    return this.#stream instanceof tls.TLSSocket ? (this.#stream.alpnProtocol ?? false) : false
  }
  /** The peer's certificate, when TLS is up and the peer sent one. */
  get peerCertificate(): import('node:crypto').X509Certificate | undefined {
    return this.#stream instanceof tls.TLSSocket ? this.#stream.getPeerX509Certificate() : undefined
  }

  /**
   * As EventEmitter's. It may remove the socket's own 'newListener' hook, so from now on every read
   * looks for 'read' listeners.
   */
  override removeAllListeners(
    ...args: Parameters<EventEmitter<AsyncSocketEvents>['removeAllListeners']>
  ): this {
    this.#readObserved = true
    // Passed on as given: EventEmitter tells "all events" from "event undefined" by the argument count.
    return super.removeAllListeners(...args)
  }

  /**
   * Queues a read. `read()` resolves with whatever is buffered (at least one byte, no copy when it is
   * one chunk); `read({ length })` with exactly that many bytes; `read({ until, maxLength })` up to and
   * including the delimiter. Reads complete in call order.
   */
  read(options?: ReadOptions): Promise<Buffer> {
    let kind: 'any' | 'length' | 'until' = 'any'
    let length = 0
    let delimiter: Buffer | undefined
    let maxLength = Number.POSITIVE_INFINITY
    if (options !== undefined) {
      if (options.length !== undefined) {
        length = options.length
        if (!Number.isSafeInteger(length) || length < 1 || length > MAX_READ_LENGTH) {
          throw new InvalidArgumentError(
            `read({ length }) needs an integer 1..${MAX_READ_LENGTH}, got ${length}`,
          )
        }
        if (options.until !== undefined)
          throw new InvalidArgumentError('read() takes length or until, not both')
        kind = 'length'
      } else if (options.until !== undefined) {
        kind = 'until'
        delimiter = toDelimiter(options.until)
        maxLength = options.maxLength ?? DEFAULTS.untilMaxLength
        if (!Number.isSafeInteger(maxLength) || maxLength < delimiter.length) {
          throw new InvalidArgumentError(`read({ until }) needs an integer maxLength ≥ the delimiter length`)
        }
      } else if (options.maxLength !== undefined) {
        maxLength = options.maxLength
        checkNumber(maxLength, 'read({ maxLength })', 1)
      }
      if (options.timeout !== undefined) checkNumber(options.timeout, 'read({ timeout })', 0, false)
      if (options.signal !== undefined) {
        checkSignal(options.signal, 'read({ signal })')
        if (options.signal.aborted)
          return Promise.reject(this.#abortError('read', options.tag, options.signal))
      }
    }
    if (this.#closing) return Promise.reject(this.#closedError('read after close()', options?.tag))
    // Fast path: the bytes are here and nothing is queued ahead.
    const data = this.#reads.tryRead(kind, length, delimiter, maxLength)
    if (data !== undefined) {
      // emit() allocates its argument list even with no listener: skip it on the hot path.
      if (this.#readObserved && this.listenerCount('read') > 0) this.emit('read', data, options?.tag)
      return Promise.resolve(data)
    }
    const ended = this.#reads.endedError()
    if (ended) return Promise.reject(ended)
    const { promise, resolve, reject } = Promise.withResolvers<Buffer>()
    const read: PendingRead = {
      kind,
      length,
      delimiter,
      maxLength,
      tag: options?.tag,
      resolve,
      reject,
      cleanup: undefined,
      scanned: 0,
      next: undefined,
    }
    if (options?.timeout !== undefined || options?.signal !== undefined)
      armRead(read, options, this.#reads, this, this.#where)
    this.#reads.enqueue(read)
    return promise
  }

  /** Queues a write; resolves once the kernel has taken the bytes. Writes complete in call order. */
  write(data: Uint8Array | string, options?: WriteOptions): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    if (!(bytes instanceof Uint8Array))
      throw new InvalidArgumentError('write() takes a Uint8Array or a string')
    if (options !== undefined) {
      if (options.timeout !== undefined) checkNumber(options.timeout, 'write({ timeout })', 0, false)
      if (options.signal !== undefined) {
        checkSignal(options.signal, 'write({ signal })')
        if (options.signal.aborted)
          return Promise.reject(this.#abortError('write', options.tag, options.signal))
      }
    }
    if (this.#writeEnded || this.#closed) {
      return Promise.reject(this.#error ?? this.#closedError('write after end()', options?.tag))
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    const write: PendingWrite = {
      data: bytes,
      tag: options?.tag,
      resolve,
      reject,
      cleanup: undefined,
      sent: false,
      settled: false,
      next: undefined,
    }
    if (options?.timeout !== undefined || options?.signal !== undefined)
      armWrite(write, options, this.#writes, this, this.#where)
    try {
      this.#writes.add(write)
    } catch (error) {
      write.cleanup?.()
      return Promise.reject(error)
    }
    return promise
  }

  /** Decoded frames, in order, until the peer ends the stream (a partial frame then throws WK_FRAME_TRUNCATED). */
  frames(codec: FrameCodec): AsyncIterable<Buffer> {
    return readFrames(this, codec)
  }

  /** Encodes `payload` as one frame and writes it. */
  writeFrame(codec: FrameCodec, payload: Uint8Array, options?: WriteFrameOptions): Promise<void> {
    return writeFrame(this, codec, payload, options)
  }

  /**
   * Upgrades the connection to TLS in place, after the reads and writes queued before this call;
   * reads and writes queued after it run over TLS. A server-side socket acts as the TLS server.
   */
  async startTLS(options: TlsOptions = {}): Promise<void> {
    validateTlsOptions(options, 'startTLS')
    if (this.#secure || this.#upgrading)
      throw new InvalidArgumentError('startTLS: the socket is already secure')
    if (this.#closed || this.#closing) throw this.#error ?? this.#closedError('startTLS on a closed socket')
    this.#upgrading = true
    const readsDone = this.#reads.barrier()
    const writesDone = this.#writes.barrier()
    try {
      await this.ready
      await Promise.all([readsDone, writesDone])
      if (this.#closed) throw this.#error ?? this.#closedError('closed before startTLS')
      this.#state = 'securing'
      const raw = this.#stream
      this.#unlisten(raw)
      await this.#secureOver(handOver(raw, this.#receiver, this.#reads.drainBuffered()), options)
    } catch (error) {
      const failure = error as WirekitError
      this.destroy(failure)
      throw failure
    } finally {
      this.#upgrading = false
    }
  }

  /** Half-close: sends FIN after every pending write. The read side stays open until the peer's FIN. */
  async end(): Promise<void> {
    if (this.#writeEnded || this.#closed) return
    this.#writeEnded = true
    await this.ready.catch(noop)
    await this.#writes.whenIdle()
    if (this.#closed) return
    const stream = this.#stream
    await new Promise<void>((resolve) => {
      stream.end(resolve)
      stream.once('close', resolve)
    })
  }

  /** Graceful close: lets pending reads and writes finish, sends FIN, then closes. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closing = true
    await this.ready.catch(noop)
    await this.#reads.whenIdle()
    await this.end()
    this.#stream.destroy()
    this.#finish()
  }

  /** Abortive close: RST (SO_LINGER 0), no TIME_WAIT. Pending operations reject with WK_CLOSED. */
  reset(): void {
    if (this.#closed) return
    this.#error ??= this.#closedError('socket was reset')
    try {
      this.#raw.resetAndDestroy()
    } catch {
      // Not TCP (a Unix socket) or not connected yet: a plain close is the best there is.
      this.#raw.destroy()
    }
    if (this.#stream !== this.#raw) this.#stream.destroy()
    this.#finish()
  }

  /** Closes now. Pending reads and writes reject with `error` (or WK_CLOSED); 'close' carries `error`. */
  destroy(error?: WirekitError): void {
    if (this.#closed) return
    if (error) this.#closeError ??= error
    this.#error ??= error ?? this.#closedError('socket destroyed')
    this.#stream.destroy()
    if (this.#stream !== this.#raw) this.#raw.destroy()
    this.#finish()
  }

  #connect(tlsOptions: TlsOptions | undefined, options: ConnectOptions): void {
    const stream = this.#stream
    const fail = (error: WirekitError): void => this.#fail(error)
    this.#cancelTimer = armConnect(options, this.#where, this.ready, fail)
    stream.once('connect', () => {
      this.#cancelTimer()
      if (!tlsOptions) return this.#becomeReady(false)
      this.#state = 'securing'
      // One deadline for the handshake and the trust checks after it.
      this.#cancelTimer = armHandshake(tlsOptions, this.#where, fail)
      this.#unlisten(stream)
      stream.on('error', noop)
      this.#secureOver(stream, tlsOptions).catch(fail)
    })
  }

  /**
   * Runs the TLS handshake over `base` (our TCP socket, or it behind replayed bytes), makes the TLS
   * socket the one bytes travel through, runs the trust checks and marks the socket ready.
   */
  async #secureOver(base: Duplex, options: TlsOptions): Promise<void> {
    const secured = await handshake(base, options, this.#isServer, this.#host, this.#where)
    this.#stream = secured
    this.#listen(secured)
    if (this.#closed) throw this.#error ?? this.#closedError('closed during the TLS handshake')
    await this.#trust(secured, options)
    this.#secure = true
    this.#becomeReady(true)
  }

  /** Trust checks after a handshake, under the handshake deadline that is still running. */
  #trust(socket: tls.TLSSocket, options: TlsOptions): Promise<void> {
    return checkPeer(socket, options, this.#isServer, options.servername ?? this.#host, this.#where)
  }

  #becomeReady(secured: boolean): void {
    if (this.#closed) return
    this.#cancelTimer()
    this.#state = 'connected'
    // A socket reading through `onread` has no 'data' events.
    if (this.#receiver === undefined || this.#stream !== this.#raw)
      this.#stream.on('data', AsyncSocket.#onData)
    if (this.#upgrading) this.#reads.lift()
    this.#writes.open()
    this.#wasReady = true
    this.#settleReady?.resolve()
    this.#settleReady = undefined
    if (secured) this.emit('secure')
    if (!this.#upgrading) {
      if (connectChannel.hasSubscribers) connectChannel.publish({ socket: this })
      debug('socket %s connected%s', this.#where, secured ? ' (TLS)' : '')
    }
  }

  /** A failure before or after connecting: closes the socket with `error`. */
  #fail(error: WirekitError): void {
    this.destroy(error)
  }

  #finish(): void {
    if (this.#closed) return
    this.#closed = true
    this.#state = 'closed'
    this.#cancelTimer()
    const error = this.#error
    if (error) {
      this.#reads.failAll(error)
      this.#writes.failAll(error)
    } else {
      // A clean close: bytes already received stay readable.
      const closed = this.#closedError('connection closed')
      this.#reads.end(closed)
      this.#writes.failAll(closed)
    }
    if (this.#settleReady !== undefined) {
      this.#settleReady.reject(readyError(error, this.#where))
      this.#settleReady = undefined
    }
    debug('socket %s closed%s', this.#where, this.#closeError ? `: ${this.#closeError.code}` : '')
    if (closeChannel.hasSubscribers) closeChannel.publish({ socket: this, error: this.#closeError })
    this.emit('close', this.#closeError)
  }

  #listen(stream: net.Socket): void {
    ;(stream as Owned)[kOwner] = this
    stream.on('end', AsyncSocket.#onEnd)
    stream.on('close', AsyncSocket.#onClose)
    stream.on('error', AsyncSocket.#onError)
    stream.on('drain', AsyncSocket.#onDrain)
  }

  #unlisten(stream: net.Socket): void {
    stream.off('data', AsyncSocket.#onData)
    stream.off('end', AsyncSocket.#onEnd)
    stream.off('close', AsyncSocket.#onClose)
    stream.off('error', AsyncSocket.#onError)
    stream.off('drain', AsyncSocket.#onDrain)
  }

  // The stream listeners: shared by every socket, called with the stream as `this`.

  static #received(socket: AsyncSocket, chunk: Buffer): void {
    socket.#bytesRead += chunk.length
    socket.#reads.push(chunk)
  }

  static readonly #onData = function (this: Owned, chunk: Buffer): void {
    AsyncSocket.#received(this[kOwner]!, chunk)
  }

  static readonly #onEnd = function (this: Owned): void {
    const socket = this[kOwner]!
    socket.#readEnded = true
    socket.#reads.end(socket.#closedError('the peer closed its side of the connection (FIN)'))
    socket.emit('readClosed')
  }

  static readonly #onClose = function (this: Owned): void {
    this[kOwner]!.#finish()
  }

  static readonly #onError = function (this: Owned, error: Error): void {
    const socket = this[kOwner]!
    const mapped =
      socket.#state === 'connected' ? ioError(error, socket.#where) : connectError(error, socket.#where)
    socket.#error ??= mapped
    socket.#closeError ??= mapped
  }

  static readonly #onDrain = function (this: Owned): void {
    this[kOwner]!.#writes.flush()
  }

  static readonly #readHost: ReadQueueHost<AsyncSocket> = {
    completed(socket, data, tag) {
      if (socket.#readObserved && socket.listenerCount('read') > 0) socket.emit('read', data, tag)
    },
    progress(socket, done, total, tag) {
      socket.emit('readProgress', done, total, tag)
    },
    pause(socket) {
      socket.#stream.pause()
    },
    resume(socket) {
      if (!socket.#closed) socket.#stream.resume()
    },
  }

  static readonly #writeHost: WriteQueueHost<AsyncSocket> = {
    send(socket, data, done) {
      socket.#stream.write(data, done)
    },
    writableLength: (socket) => socket.#stream.writableLength,
    completed(socket, write) {
      socket.#bytesWritten += write.data.length
      socket.emit('write', write.tag)
    },
    failed(socket, error) {
      socket.destroy(ioError(error, socket.#where))
    },
  }

  #closedError(message: string, tag?: unknown): ClosedError {
    return closedError(this.#where, message, tag)
  }

  #abortError(what: string, tag: unknown, signal: AbortSignal): AbortError {
    return abortError(this.#where, what, tag, signal)
  }
}

function noop(): void {}
