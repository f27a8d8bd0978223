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
import type { FrameCodec } from '../framing/index.ts'
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
import type { AsyncSocketEvents, ChunkConsumer, SocketState, WrapOptions } from './socket-types.ts'
import { checkPeer, type TlsOptions, validateTlsOptions } from './tls.ts'
import { handOver, handshake } from './upgrade.ts'
import { type PendingWrite, WriteQueue, type WriteQueueHost } from './write-queue.ts'

export type { AsyncSocketEvents, ChunkConsumer, SocketState, WrapOptions } from './socket-types.ts'

/**
 * Wraps a connected plaintext socket created with `receiver.onread` (AsyncServer's accepted sockets).
 * Internal: not exported from the package.
 */
export let wrapReceiving: (stream: net.Socket, options: WrapOptions, receiver: ReceiveBuffer) => AsyncSocket

/**
 * Consumers waiting for the reads queued before them (see `consume`): kept aside, so a socket carries no
 * field for what is rare.
 */
const waitingConsumers = new WeakMap<AsyncSocket, ChunkConsumer>()

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
  /** Made on first use: a socket whose bytes go to a consumer may never need one. */
  #reads: ReadQueue<AsyncSocket> | undefined
  readonly #readHighWaterMark: number
  /** Takes the bytes as they arrive instead of the read queue (see `consume`). */
  #consumer: ChunkConsumer | undefined
  readonly #writes: WriteQueue<AsyncSocket>
  /** Made when first asked for: most accepted sockets are ready at once and nobody asks. */
  #ready: Promise<void> | undefined
  #settleReady: PromiseWithResolvers<void> | undefined
  #state: SocketState = 'connecting'
  readonly #host: string | undefined
  /** How errors name the connection; for an accepted one, made from the peer address when needed. */
  #whereText: string | undefined
  /** The boolean state below, one bit each: an idle socket keeps one field instead of nine. */
  #bits = 0
  /** The failure that closed (or is closing) the socket: pending operations reject with it. */
  #error: WirekitError | undefined
  /** Reported by the 'close' event: a failure, not a deliberate destroy() or reset(). */
  #closeError: WirekitError | undefined
  #bytesRead = 0
  #bytesWritten = 0
  #cancelTimer: () => void = noop

  /** Whether a bit of the boolean state is on (see the bits at the end of this file). */
  #has(bit: number): boolean {
    return (this.#bits & bit) !== 0
  }

  get #where(): string {
    // A wrapped socket's peer address was read (so Node keeps it) when it was wrapped.
    this.#whereText ??= describePeer(this.#raw)
    return this.#whereText
  }

  /** Turns READ_OBSERVED / WRITE_OBSERVED on when a 'read' / 'write' listener is added ('newListener' hook). */
  static readonly #watchListeners = function (this: AsyncSocket, event: string | symbol): void {
    if (event === 'read') this.#bits |= READ_OBSERVED
    else if (event === 'write') this.#bits |= WRITE_OBSERVED
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
    // Read now, so Node keeps the address for error messages made after the connection is gone.
    void raw.remoteAddress
    if (stream !== raw) void stream.remoteAddress
    const isServer = options.isServer ?? false
    const socket = new AsyncSocket(stream, raw, options, isServer, options.host, undefined, receiver)
    if (options.noDelay ?? true) stream.setNoDelay?.(true)
    if (options.keepAlive) stream.setKeepAlive?.(true, options.keepAliveInitialDelay ?? 0)
    if (stream instanceof tls.TLSSocket) {
      socket.#bits |= SECURE
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
    where: string | undefined,
    receiver?: ReceiveBuffer,
  ) {
    super()
    // EventEmitter starts every emitter with a dictionary-mode `_events` ({ __proto__: null }): a
    // fast-mode object without a prototype holds the few listeners a socket gets in far less memory.
    ;(this as unknown as { _events: object })._events = Object.setPrototypeOf({}, null)
    this.#stream = stream
    this.#raw = raw
    this.#receiver = receiver
    if (isServer) this.#bits |= IS_SERVER
    this.#host = host
    this.#whereText = where
    this.onReadTimeout = options.onReadTimeout
    this.onWriteTimeout = options.onWriteTimeout
    this.#readHighWaterMark = options.readHighWaterMark ?? DEFAULTS.readHighWaterMark
    this.#writes = new WriteQueue(
      this,
      AsyncSocket.#writeHost,
      options.writeHighWaterMark ?? DEFAULTS.writeHighWaterMark,
      options.maxWriteQueue ?? DEFAULTS.maxWriteQueue,
    )
    this.#listen(stream)
    receiver?.attach(this, AsyncSocket.#received, undefined)
    // 'newListener' is EventEmitter's own event, outside AsyncSocketEvents.
    ;(this as EventEmitter).on('newListener', AsyncSocket.#watchListeners)
  }

  /** Settles when the socket is usable: connected, and secured and trusted when TLS is on. */
  get ready(): Promise<void> {
    let ready = this.#ready
    if (ready === undefined) {
      if (this.#has(WAS_READY)) ready = Promise.resolve()
      else if (this.#has(CLOSED)) ready = Promise.reject(readyError(this.#error, this.#where))
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
    return this.#has(SECURE) && this.#state === 'connected'
  }
  /** True once the peer's FIN arrived: no more bytes will come (buffered ones are still readable). */
  get readEnded(): boolean {
    return this.#has(READ_ENDED)
  }
  /** True once end() was called: no more writes are accepted. */
  get writeEnded(): boolean {
    return this.#has(WRITE_ENDED)
  }
  /** True when this end accepted the connection. */
  get isServer(): boolean {
    return this.#has(IS_SERVER)
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
    return this.#reads?.buffered ?? 0
  }
  /** Bytes of writes not yet taken by the kernel (in the stream plus waiting in our queue). */
  get pendingWriteBytes(): number {
    return (this.#has(CLOSED) ? 0 : this.#stream.writableLength) + this.#writes.waitingBytes
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
    this.#bits |= READ_OBSERVED
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
    if (this.#has(CLOSING)) return Promise.reject(this.#closedError('read after close()', options?.tag))
    if (this.#has(CONSUMED)) {
      throw new InvalidArgumentError('read() on a socket whose bytes go to a consumer (consume())')
    }
    const reads = this.#reads ?? this.#readQueue()
    // Fast path: the bytes are here and nothing is queued ahead.
    const data = reads.tryRead(kind, length, delimiter, maxLength)
    if (data !== undefined) {
      // emit() allocates its argument list even with no listener: skip it on the hot path.
      if (this.#has(READ_OBSERVED) && this.listenerCount('read') > 0) this.emit('read', data, options?.tag)
      return Promise.resolve(data)
    }
    const ended = reads.endedError()
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
      armRead(read, options, reads, this, this.#where)
    reads.enqueue(read)
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
    if (this.#has(WRITE_ENDED) || this.#has(CLOSED)) {
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

  /**
   * Queues a write and returns at once, with no promise: the delegate form of `write()`, for writers
   * that do not wait for each write (a fan-out, a sender that tracks its own backlog through
   * `pendingWriteBytes`). CocoaAsyncSocket's writeData:withTimeout:tag: returns nothing either: the
   * delegate hears `write(tag)` when the kernel has the bytes, and a failure ends the connection and
   * arrives as `close(error)` (didDisconnectWithError). A promise per write would cost such a writer
   * a promise, two closures and a microtask for an answer it never reads.
   *
   * It is the same queue as `write()`: sends and writes reach the peer in call order, count in
   * `bytesWritten`, `pendingWriteBytes` and `queuedWriteBytes`, and wait past the high-water mark.
   * What differs is what cannot be awaited:
   * - no timeout and no signal (a write that can be withdrawn needs someone to tell);
   * - a send that would overflow `maxWriteQueue` closes the socket with WK_BACKPRESSURE instead of
   *   being dropped: the bytes after it would reach the peer with a hole before them;
   * - a send after `end()`, `close()` or `destroy()` queues nothing and returns false;
   * - on a plaintext socket with no 'write' listener, a send has no completion to report: bytes the kernel
   *   takes at once count in `bytesWritten` before send() returns, and the stream is spared a write
   *   callback (a process.nextTick per write in node's streams, the largest per-write cost of a
   *   fan-out above the syscall). A listener added later hears the sends made after it.
   *
   * @returns true when the bytes were queued; false when the socket takes no more writes.
   * @example
   * for (const viewer of viewers) viewer.send(frame)
   */
  send(data: Uint8Array | string, tag?: unknown): boolean {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    if (!(bytes instanceof Uint8Array))
      throw new InvalidArgumentError('send() takes a Uint8Array or a string')
    if ((this.#bits & (WRITE_ENDED | CLOSED)) !== 0) return false
    const write: PendingWrite = {
      data: bytes,
      tag,
      resolve: noop,
      reject: noop,
      cleanup: undefined,
      sent: false,
      settled: false,
      next: undefined,
    }
    // Plaintext and no 'write' listener: nothing needs to hear when the kernel has the bytes.
    if ((this.#bits & CALLBACK_WRITES) === 0 && this.#writes.sendNow(write)) return true
    try {
      this.#writes.add(write)
    } catch (error) {
      this.destroy(error as WirekitError)
      return false
    }
    return true
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
    if (this.#has(SECURE) || this.#has(UPGRADING))
      throw new InvalidArgumentError('startTLS: the socket is already secure')
    if (this.#has(CLOSED) || this.#has(CLOSING))
      throw this.#error ?? this.#closedError('startTLS on a closed socket')
    this.#bits |= UPGRADING
    const readsDone = this.#readQueue().barrier()
    const writesDone = this.#writes.barrier()
    try {
      await this.ready
      await Promise.all([readsDone, writesDone])
      if (this.#has(CLOSED)) throw this.#error ?? this.#closedError('closed before startTLS')
      this.#state = 'securing'
      const raw = this.#stream
      this.#unlisten(raw)
      await this.#secureOver(handOver(raw, this.#receiver, this.#readQueue().drainBuffered()), options)
    } catch (error) {
      const failure = error as WirekitError
      this.destroy(failure)
      throw failure
    } finally {
      this.#bits &= ~UPGRADING
    }
  }

  /** Half-close: sends FIN after every pending write. The read side stays open until the peer's FIN. */
  async end(): Promise<void> {
    if (this.#has(WRITE_ENDED) || this.#has(CLOSED)) return
    this.#bits |= WRITE_ENDED
    await this.ready.catch(noop)
    await this.#writes.whenIdle()
    if (this.#has(CLOSED)) return
    const stream = this.#stream
    await new Promise<void>((resolve) => {
      stream.end(resolve)
      stream.once('close', resolve)
    })
  }

  /** Graceful close: lets pending reads and writes finish, sends FIN, then closes. */
  async close(): Promise<void> {
    if (this.#has(CLOSED)) return
    this.#bits |= CLOSING
    await this.ready.catch(noop)
    await this.#reads?.whenIdle()
    await this.end()
    this.#stream.destroy()
    this.#finish()
  }

  /** Abortive close: RST (SO_LINGER 0), no TIME_WAIT. Pending operations reject with WK_CLOSED. */
  reset(): void {
    if (this.#has(CLOSED)) return
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
    if (this.#has(CLOSED)) return
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
    const secured = await handshake(base, options, this.#has(IS_SERVER), this.#host, this.#where)
    this.#stream = secured
    this.#listen(secured)
    if (this.#has(CLOSED)) throw this.#error ?? this.#closedError('closed during the TLS handshake')
    await this.#trust(secured, options)
    this.#bits |= SECURE
    this.#becomeReady(true)
  }

  /** Trust checks after a handshake, under the handshake deadline that is still running. */
  #trust(socket: tls.TLSSocket, options: TlsOptions): Promise<void> {
    return checkPeer(socket, options, this.#has(IS_SERVER), options.servername ?? this.#host, this.#where)
  }

  #becomeReady(secured: boolean): void {
    if (this.#has(CLOSED)) return
    this.#cancelTimer()
    this.#state = 'connected'
    // A socket reading through `onread` has no 'data' events.
    if (this.#receiver === undefined || this.#stream !== this.#raw)
      this.#stream.on('data', AsyncSocket.#onData)
    if (this.#has(UPGRADING)) this.#reads?.lift()
    this.#writes.open()
    this.#bits |= WAS_READY
    this.#settleReady?.resolve()
    this.#settleReady = undefined
    if (secured) this.emit('secure')
    if (!this.#has(UPGRADING)) {
      if (connectChannel.hasSubscribers) connectChannel.publish({ socket: this })
      if (debug.enabled) debug('socket %s connected%s', this.#where, secured ? ' (TLS)' : '')
    }
  }

  /** A failure before or after connecting: closes the socket with `error`. */
  #fail(error: WirekitError): void {
    this.destroy(error)
  }

  #finish(): void {
    if (this.#has(CLOSED)) return
    this.#bits |= CLOSED
    this.#state = 'closed'
    this.#cancelTimer()
    const error = this.#error
    const reads = this.#readQueue()
    let reason: WirekitError
    if (error) {
      reason = error
      reads.failAll(error)
      this.#writes.failAll(error)
    } else {
      // A clean close: bytes already received stay readable.
      reason = this.#closedError('connection closed')
      reads.end(reason)
      this.#writes.failAll(reason)
    }
    this.#endConsumer(reason)
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
    takeOverNetOnEnd(stream)
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
    // Give net its own 'end' listener back (see takeOverNetOnEnd).
    if (netOnEnd !== undefined && !stream.rawListeners('end').includes(netOnEnd)) stream.on('end', netOnEnd)
  }

  /** The read queue, made on first use. */
  #readQueue(): ReadQueue<AsyncSocket> {
    let reads = this.#reads
    if (reads === undefined) {
      reads = new ReadQueue(this, AsyncSocket.#readHost, this.#readHighWaterMark)
      this.#reads = reads
      // Reads sized to records only while the receiver still feeds this socket (not after startTLS).
      if (this.#stream === this.#raw) this.#receiver?.plan(reads)
    }
    return reads
  }

  /**
   * Hands the socket's bytes to `consumer` as they arrive, instead of through `read()`: what a protocol
   * loop needs without a read (a promise and its closures) pending on every idle connection.
   *
   * - Order: bytes already received go first (at once, in this call); reads queued before this call
   *   complete first, and the consumer takes over the bytes after theirs. `read()` throws
   *   WK_INVALID_ARGUMENT while a consumer is attached or waiting.
   * - The end: `consumeEnd(reason)` once, when no more bytes will come (the peer's FIN, `readEnded` then
   *   true; a reset; a close), after the last chunk; then the consumer is detached. Attached to a socket
   *   that has ended already, it is told at once.
   * - Pausing: `consume(undefined)` detaches. Bytes then wait in the socket, which stops reading at its
   *   `readHighWaterMark` (TCP pushes the peer back) until a consumer or `read()` takes them.
   *
   * @example
   * socket.consume({ consumeChunk: (chunk) => decoder.push(chunk), consumeEnd: (reason) => done(reason) })
   */
  consume(consumer: ChunkConsumer | undefined): void {
    if (
      consumer !== undefined &&
      (typeof consumer.consumeChunk !== 'function' || typeof consumer.consumeEnd !== 'function')
    ) {
      throw new InvalidArgumentError('consume() takes { consumeChunk, consumeEnd } or undefined')
    }
    waitingConsumers.delete(this)
    const reads = this.#reads
    if (consumer !== undefined && reads !== undefined && reads.pending > 0) {
      // The reads queued first take their bytes first; the consumer starts once none is left.
      this.#consumer = undefined
      this.#bits |= CONSUMED
      waitingConsumers.set(this, consumer)
      void reads.whenIdle().then(() => {
        if (waitingConsumers.get(this) !== consumer) return
        waitingConsumers.delete(this)
        this.#consume(consumer)
      })
      return
    }
    this.#consume(consumer)
  }

  #consume(consumer: ChunkConsumer | undefined): void {
    this.#consumer = consumer
    if (consumer === undefined) this.#bits &= ~CONSUMED
    else this.#bits |= CONSUMED
    const reads = this.#reads
    if (consumer === undefined || reads === undefined) return
    // What arrived while nobody consumed goes first (taking it resumes a stream paused at the mark).
    const buffered = reads.tryRead('any', 0, undefined, Number.POSITIVE_INFINITY)
    if (buffered !== undefined) consumer.consumeChunk(buffered)
    if (this.#consumer !== consumer) return
    const ended = reads.endedError()
    if (ended !== undefined) this.#endConsumer(ended)
  }

  /** Tells the consumer, if any, that no more bytes will come. */
  #endConsumer(reason: WirekitError): void {
    const consumer = this.#consumer
    if (consumer === undefined) return
    this.#consumer = undefined
    this.#bits &= ~CONSUMED
    consumer.consumeEnd(reason)
  }

  // The stream listeners: shared by every socket, called with the stream as `this`.

  static #received(socket: AsyncSocket, chunk: Buffer): void {
    socket.#bytesRead += chunk.length
    const consumer = socket.#consumer
    if (consumer !== undefined) consumer.consumeChunk(chunk)
    else (socket.#reads ?? socket.#readQueue()).push(chunk)
  }

  static readonly #onData = function (this: Owned, chunk: Buffer): void {
    AsyncSocket.#received(this[kOwner]!, chunk)
  }

  static readonly #onEnd = function (this: Owned): void {
    // In place of net's own listener when that one was taken over; running it twice does no harm.
    netOnEnd?.call(this)
    const socket = this[kOwner]!
    socket.#bits |= READ_ENDED
    const fin = socket.#closedError('the peer closed its side of the connection (FIN)')
    socket.#readQueue().end(fin)
    socket.emit('readClosed')
    socket.#endConsumer(fin)
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
      if (socket.#has(READ_OBSERVED) && socket.listenerCount('read') > 0) socket.emit('read', data, tag)
    },
    progress(socket, done, total, tag) {
      socket.emit('readProgress', done, total, tag)
    },
    pause(socket) {
      socket.#stream.pause()
    },
    resume(socket) {
      if (!socket.#has(CLOSED)) socket.#stream.resume()
    },
  }

  static readonly #writeHost: WriteQueueHost<AsyncSocket> = {
    send(socket, data, done) {
      socket.#stream.write(data, done)
    },
    writable: (socket) => socket.#stream.writable,
    writableLength: (socket) => socket.#stream.writableLength,
    completed(socket, write) {
      socket.#bytesWritten += write.data.length
      if (socket.#has(WRITE_OBSERVED) && socket.listenerCount('write') > 0) socket.emit('write', write.tag)
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

// The bits of AsyncSocket's boolean state (`#bits`): an idle socket keeps one field instead of nine.
/** The socket became usable once: `ready` resolves (a later close does not reject it). */
const WAS_READY = 1
const IS_SERVER = 2
const SECURE = 4
const UPGRADING = 8
const WRITE_ENDED = 16
const READ_ENDED = 32
const CLOSING = 64
const CLOSED = 128
/**
 * A 'read' listener may exist. Checking for listeners costs a dictionary lookup, a tenth of a small
 * read, so reads look at this bit first; it only ever turns on.
 */
const READ_OBSERVED = 256
/** A 'write' listener may exist (as READ_OBSERVED, for the write completions). */
const WRITE_OBSERVED = 1024
/**
 * Writes that need the stream's callback: someone listens for 'write', or the stream is TLS (a TLS
 * write completes later, never at once, so skipping its callback would only add an empty write).
 */
const CALLBACK_WRITES = WRITE_OBSERVED | SECURE
/** A consumer takes the bytes, or waits for the reads queued before it (see `consume`): read() throws. */
const CONSUMED = 512

/**
 * net.Socket's own 'end' listener (onReadableStreamEnd: writes fail after the peer's FIN unless the
 * socket is half-open), learned from the first stream that has it.
 */
let netOnEnd: ((this: net.Socket) => void) | undefined

/**
 * A stream whose only 'end' listener is net's own gives it up: AsyncSocket's listener calls it, so the
 * stream keeps one function for the event where two would cost it an array (about 100 bytes).
 */
function takeOverNetOnEnd(stream: net.Socket): void {
  if (stream.listenerCount('end') !== 1) return
  const only = stream.rawListeners('end')[0] as (this: net.Socket) => void
  if (netOnEnd === undefined && only.name === 'onReadableStreamEnd') netOnEnd = only
  if (only === netOnEnd) stream.off('end', only)
}

/** How errors name an accepted connection: its peer's address and port. */
function describePeer(raw: net.Socket): string {
  // join() builds one flat string; a template would keep a rope of three pieces.
  return raw.remoteAddress ? [raw.remoteAddress, raw.remotePort].join(':') : 'unix socket peer'
}
