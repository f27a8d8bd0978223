// MessageClient: one session with a MessageServer that survives its connections. It dials, says HELLO,
// resumes its session after every cut (resending what the server has not acknowledged), reconnects with
// backoff, and tells the application when a session could not be resumed ('sessionLost').
//
//   connect() ─► connecting ──WELCOME──► connected ──transport lost, heartbeat timeout,──► reconnecting
//                    ▲                                GOAWAY { reconnect: true }               │
//                    └───────────────────── backoff delay elapsed ─────────────────────────────┘
//   close(), auth refused, GOAWAY { reconnect: false }, or maxAttempts spent ─► closed

import {
  BackpressureError,
  ClosedError,
  ConnectError,
  ErrorCodes,
  errorFor,
  InvalidArgumentError,
  isErrorCode,
  MessagingError,
  ProtocolError,
  type WirekitError,
} from '../errors.ts'
import type { FrameCodec } from '../framing/index.ts'
import { type BackoffOptions, backoffDelay } from '../util/backoff.ts'
import { publishSession } from './channels.ts'
import { ClientSubscriptions } from './client-subscriptions.ts'
import { delayAck } from './delayed-acks.ts'
import { Endpoints } from './endpoints.ts'
import { resolveHeartbeat } from './heartbeat.ts'
import { type Listener, Listeners } from './listeners.ts'
import { checkEventName } from './peer.ts'
import { ROOM_EVENT } from './room-message.ts'
import type { SessionCore } from './session/core.ts'
import {
  describeEntries,
  type Outbox,
  type OutboxLimits,
  type UnacknowledgedMessage,
} from './session/outbox.ts'
import {
  attachTransport,
  type CoreOwner,
  chunkReceived,
  detachTransport,
  flushSession,
  frameSource,
  nodeCore,
  nodeProfile,
  type RequestHandler,
  type RequestOptions,
  receiveFrame,
  resumeWriting,
  scheduleFlush,
  sweepSession,
} from './session.ts'
import type { SubscribeOptions, Subscription } from './subscription.ts'
import { Connection } from './transport/connection.ts'
import { type ClientTlsOptions, dial } from './transport/stream.ts'
import { WebSocketClientConnection } from './transport/websocket-client-connection.ts'
import { openNodeWebSocket } from './transport/websocket-node.ts'
import { Format, Kind } from './wire/envelope.ts'
import { encodeFrame, wireCodec } from './wire/frame-writer.ts'
import { goawayFor, type Hello, PROTOCOL_VERSION, parseGoaway, parseWelcome } from './wire/handshake.ts'
import { acceptsMsgpack, type PayloadCodecName } from './wire/payload-codec.ts'

export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closed'

export type ReconnectOptions = BackoffOptions & {
  /** Reconnect attempts in a row before giving up (state 'closed'). @default Infinity */
  maxAttempts?: number
  /**
   * Also retry the first connection (same backoff, same `maxAttempts`) instead of rejecting
   * `MessageClient.connect` at once; it rejects with the last error once the attempts are spent, or at
   * once on an authentication refusal. @default false
   */
  retryFirstConnect?: boolean
}

export type MessageClientOptions = {
  /** Reconnect with exponential backoff and jitter after a lost connection; `false` to close instead. @default {} */
  reconnect?: ReconnectOptions | false
  /** Sent in the HELLO, checked by the server's `authenticate`. */
  credentials?: unknown
  /** Time allowed to connect and complete the handshake, in ms. @default 10_000 */
  connectTimeout?: number
  /** TLS options for tls:// URLs (ca, servername, cert/key for mTLS, checkServerIdentity...). */
  tls?: ClientTlsOptions
  /** Bounds of unacknowledged client→server messages; a send beyond them rejects with WK_BACKPRESSURE. @default { maxMessages: 10_000, maxBytes: 8 MiB } */
  outbox?: OutboxLimits
  /** How structured payloads are encoded. @default 'json' */
  codec?: PayloadCodecName
  /** Largest frame accepted, in bytes. @default 1 MiB */
  maxFrameLength?: number
  /**
   * Payload formats decoded from the server; JSON and raw bytes always are. MessagePack is decoded
   * defensively (no structured clone, BigInt or exotic types: WK_PROTOCOL). @default ['json', 'msgpack']
   */
  accept?: PayloadCodecName[]
  /**
   * ws:// and wss:// only: offer batch envelopes (several envelopes in one WebSocket message, used only
   * when the server agrees). `false` sends and receives one envelope per WebSocket message. @default true
   */
  batch?: boolean
}

/** See `ackDelay`. */
const CLIENT_ACK_DELAY_MS = 20

type Waiter = { resolve: () => void; reject: (error: Error) => void }

/**
 * A messaging client.
 * @example
 * const client = await MessageClient.connect('tcp://127.0.0.1:9000', { credentials: { token } })
 * const reply = await client.request('echo', { hi: 1 }, { timeout: 5000 })
 * await client.emit('chat', { text: 'hello' })
 */
export class MessageClient implements CoreOwner {
  /** The delivery state: sequence numbers, outbox, acks, requests (see session/core.ts). */
  readonly core: SessionCore
  /** The transport in use; the core is `established` once its handshake is done. */
  conn: Connection | undefined
  readonly codec: FrameCodec
  #endpoints: Endpoints
  #options: MessageClientOptions
  #state: ClientState = 'connecting'
  #listeners = new Listeners()
  #subscriptions: ClientSubscriptions | undefined
  #handlers = new Map<string, RequestHandler<MessageClient>>()
  #sessionId: string | undefined
  /** The secret that resumes #sessionId (from the WELCOME); kept with it, never exposed. */
  #resumeToken: string | undefined
  #attempt = 0
  #retryTimer: NodeJS.Timeout | undefined
  #welcome: Waiter | undefined
  #ownMaxFrame: number

  /**
   * Connects and completes the handshake. Rejects if the first connection fails, unless
   * `reconnect.retryFirstConnect` is set.
   *
   * Several URLs (e.g. nodes sharing a RedisAdapter) give failover: the client starts with the first;
   * after a lost connection it retries the same URL once, and every failed attempt moves on to the
   * next URL in the list (wrapping around), with the usual backoff between attempts.
   */
  static async connect(
    urls: string | readonly string[],
    options: MessageClientOptions = {},
  ): Promise<MessageClient> {
    const client = new MessageClient(urls, options)
    const reconnect = options.reconnect === false ? undefined : options.reconnect
    for (;;) {
      try {
        await client.#open()
        return client
      } catch (error) {
        const retry =
          reconnect?.retryFirstConnect === true &&
          client.#state !== 'closed' &&
          !isFatal(error as Error) &&
          client.#attempt < (reconnect.maxAttempts ?? Number.POSITIVE_INFINITY)
        if (!retry) {
          client.#finish(error as Error)
          throw error
        }
        client.#endpoints.advance()
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(client.#attempt++, reconnect)))
      }
    }
  }

  private constructor(urls: string | readonly string[], options: MessageClientOptions) {
    const maxFrameLength = options.maxFrameLength ?? 1024 * 1024
    this.codec = wireCodec(maxFrameLength)
    const profile = nodeProfile({
      payloadCodec: options.codec ?? 'json',
      heartbeat: resolveHeartbeat(undefined),
      maxFrameLength,
      limits: options.outbox,
      pings: true,
      // A client acks a lone message a little later: a broadcast to thousands of clients then is not
      // answered by thousands of ack writes while it is still being sent, and the ack usually rides
      // with the client's next message instead.
      ackDelay: CLIENT_ACK_DELAY_MS,
      acceptsMsgpack: acceptsMsgpack(options.accept ?? ['json', 'msgpack']),
    })
    this.core = nodeCore(this, profile, maxFrameLength)
    this.#endpoints = new Endpoints(urls)
    this.#options = options
    this.#ownMaxFrame = maxFrameLength
  }

  /** The URL in use (or being dialled). */
  get url(): string {
    return this.#endpoints.url
  }

  /** Every URL this client may use, in failover order. */
  get urls(): readonly string[] {
    return this.#endpoints.urls
  }

  get state(): ClientState {
    return this.#state
  }

  /** The current session id (undefined before the first handshake). */
  get sessionId(): string | undefined {
    return this.#sessionId
  }

  get connected(): boolean {
    return this.#state === 'connected'
  }

  /** Whether this client decodes MessagePack payloads (its `accept` option); subscriptions obey it too. */
  get acceptsMsgpack(): boolean {
    return this.core.profile.acceptsMsgpack
  }

  /** Messages to the server not yet acknowledged. */
  get outbox(): Outbox {
    return this.core.outbox
  }

  /**
   * Subscribes to a durable room (the server needs the `history` option). With `recover: true` the
   * subscription re-subscribes by itself after any reconnect, lost session or failover, from its last
   * position: what was published meanwhile arrives once, in order, or a `gap` says what is gone.
   * @example const sub = await client.subscribe('lobby', { recover: true }); sub.on('message', (data, meta) => …)
   */
  subscribe(room: string, options?: SubscribeOptions): Promise<Subscription> {
    if (this.#state === 'closed')
      return Promise.reject(new ClosedError(ErrorCodes.CLOSED, 'Client is closed'))
    this.#subscriptions ??= new ClientSubscriptions(this, (error) => this.#listeners.fail(error))
    return this.#subscriptions.subscribe(room, options)
  }

  /** Sends an event; resolves when the server acknowledges it. While disconnected it waits in the outbox. */
  emit(event: string, data?: unknown): Promise<void> {
    checkEventName(event)
    if (this.#state === 'closed')
      return Promise.reject(new ClosedError(ErrorCodes.CLOSED, 'Client is closed'))
    return this.core.sendEvent(event, data)
  }

  /** Volatile sends: written if connected, otherwise dropped; never resent. `emit` returns whether it was queued. */
  get volatile(): { emit(event: string, data?: unknown): boolean } {
    return {
      emit: (event, data) => {
        checkEventName(event)
        return this.#state !== 'closed' && this.core.sendVolatile(event, data)
      },
    }
  }

  /** Calls a server handler; completes once even across reconnects (the handler runs once). */
  request<T = unknown>(method: string, data?: unknown, options?: RequestOptions): Promise<T> {
    if (this.#state === 'closed')
      return Promise.reject(new ClosedError(ErrorCodes.CLOSED, 'Client is closed'))
    return this.core.sendRequest(method, data, options) as Promise<T>
  }

  /** Handles requests the server makes with `peer.request(method, data)`. */
  handle<T = unknown>(method: string, handler: (data: T, client: MessageClient) => unknown): this {
    if (typeof handler !== 'function')
      throw new InvalidArgumentError('handle(method, handler) needs a function')
    this.#handlers.set(method, handler as RequestHandler<MessageClient>)
    return this
  }

  /**
   * Server events by name, and lifecycle events: 'state' (ClientState), 'disconnect' (error: the
   * transport was lost, a resume follows), 'resumed', 'sessionLost' (unacknowledged messages, error),
   * 'close' (error?: the client is done), 'error' (a listener threw).
   */
  on(event: string, listener: Listener): this {
    this.#listeners.on(event, listener)
    return this
  }

  off(event: string, listener: Listener): this {
    this.#listeners.off(event, listener)
    return this
  }

  once(event: string, listener: Listener): this {
    this.#listeners.once(event, listener)
    return this
  }

  /**
   * Ends the session: the server forgets it, nothing reconnects, and sends not yet acknowledged reject
   * with WK_CLOSED.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed') return
    const conn = this.conn
    if (conn !== undefined && !conn.closed) {
      // BYE after whatever is being written: the server drops the session instead of retaining it.
      const bye = this.core.established ? encodeFrame(this.codec, Kind.BYE, Format.EMPTY) : undefined
      detachTransport(this)
      conn.close(undefined, bye)
    }
    this.#finish(new ClosedError(ErrorCodes.CLOSED, 'Client closed'))
  }

  // ——— connecting ———

  async #open(): Promise<void> {
    this.#setState('connecting')
    const timeout = this.#options.connectTimeout ?? 10_000
    const conn = await this.#dial(timeout)
    this.conn = conn
    const hello: Hello = { v: PROTOCOL_VERSION, lastReceived: this.core.lastReceived }
    if (this.#sessionId !== undefined) {
      hello.session = this.#sessionId
      hello.token = this.#resumeToken
    }
    if (this.#options.credentials !== undefined) hello.credentials = this.#options.credentials
    if (conn instanceof WebSocketClientConnection && this.#options.batch !== false) {
      hello.batch = conn.offerBatches()
    }
    const welcomed = new Promise<void>((resolve, reject) => {
      this.#welcome = { resolve, reject }
    })
    const timer = setTimeout(() => {
      conn.close(new ConnectError(ErrorCodes.CONNECT_TIMEOUT, `No WELCOME within ${timeout} ms`))
    }, timeout)
    timer.unref()
    const helloFrame = encodeFrame(this.codec, Kind.HELLO, Format.JSON, { body: JSON.stringify(hello) })
    if (this.#sessionId === undefined) {
      conn.write(helloFrame)
    } else {
      // Resuming: the unacknowledged messages ride right behind the HELLO instead of waiting a round
      // trip for the WELCOME. They count as sent (the server may apply them) unless the WELCOME says
      // the session is lost, in which case the server dropped them unread.
      conn.write(this.core.writeEarly(helloFrame) as Buffer)
    }
    conn.start()
    try {
      await welcomed
    } finally {
      clearTimeout(timer)
    }
  }

  /** A transport to the current endpoint: a stream socket, or a WebSocket for ws:// and wss://. */
  async #dial(timeout: number): Promise<Connection> {
    const endpoint = this.#endpoints.endpoint
    if (endpoint.kind === 'ws') {
      const ws = await openNodeWebSocket(endpoint.url, timeout, this.#options.tls)
      if (this.#state === 'closed') {
        ws.close()
        throw new ClosedError(ErrorCodes.CLOSED, 'Client closed while connecting')
      }
      return new WebSocketClientConnection(ws, this.codec, this)
    }
    const transport = await dial(endpoint, timeout, this.#options.tls)
    if (this.#state === 'closed') {
      transport.destroy()
      throw new ClosedError(ErrorCodes.CLOSED, 'Client closed while connecting')
    }
    return new Connection(transport, this.codec, this)
  }

  #scheduleReconnect(reason: Error | undefined): void {
    const options = this.#options.reconnect ?? {}
    if (options === false || this.#attempt >= (options.maxAttempts ?? Number.POSITIVE_INFINITY)) {
      this.#finish(reason ?? new ClosedError(ErrorCodes.CLOSED, 'Connection lost'))
      return
    }
    this.#setState('reconnecting')
    const wait = backoffDelay(this.#attempt++, options)
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      this.#open().catch((error: Error) => {
        if (this.#state === 'closed') return
        if (isFatal(error)) this.#finish(error)
        else {
          this.#endpoints.advance()
          this.#scheduleReconnect(error)
        }
      })
    }, wait)
  }

  /** The client is done: rejects everything still pending and reports 'closed'. */
  #finish(reason: Error): void {
    if (this.#state === 'closed') return
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    const conn = this.conn
    detachTransport(this)
    if (conn !== undefined && !conn.closed) conn.close(undefined)
    const waiter = this.#welcome
    this.#welcome = undefined
    waiter?.reject(reason)
    this.core.end(
      (entries) =>
        new ClosedError(ErrorCodes.CLOSED, `Client closed: ${reason.message}`, {
          cause: reason,
          unacknowledged: describeEntries(entries, this.core.payloads),
        }),
    )
    this.#setState('closed')
    if (this.#sessionId !== undefined) publishSession('close', this.#sessionId, reason)
    this.#listeners.dispatch('close', reason.message === 'Client closed' ? undefined : reason)
  }

  #setState(state: ClientState): void {
    if (this.#state === state) return
    this.#state = state
    this.#listeners.dispatch('state', state)
  }

  // ——— the core and the transport (SessionHost, ConnectionOwner) ———

  onFrame(frame: Buffer, conn: Connection): void {
    receiveFrame(this, frame, conn)
  }

  onChunk(_conn: Connection): void {
    chunkReceived(this)
  }

  onWritable(_conn: Connection): void {
    resumeWriting(this)
  }

  farewell(error: Error): Buffer | undefined {
    return goawayFor(this.codec, error)
  }

  schedule(): void {
    scheduleFlush(this)
  }

  flushNow(): void {
    flushSession(this)
  }

  delayAck(ms: number): void {
    delayAck(this, ms)
  }

  ackTimerFired(): void {
    this.core.ackTimerFired()
  }

  beforeFlush(): void {}

  sweep(now: number): void {
    sweepSession(this, now)
  }

  /** HELLO, WELCOME, GOAWAY or BYE from the server. */
  onControl(kind: Kind, payload: unknown): void {
    const conn = frameSource()
    if (kind === Kind.GOAWAY && conn !== this.conn) {
      // A transport this client already replaced: its farewell concerns nothing current.
      conn.close(undefined)
      return
    }
    if (kind === Kind.GOAWAY) {
      const goaway = parseGoaway(payload)
      // A code this client does not know (a newer server, or a hostile one) becomes WK_REMOTE_ERROR,
      // the server's string kept as `remoteCode`; a known code comes with its one class.
      const error = isErrorCode(goaway.code)
        ? errorFor(goaway.code, `Server said goodbye: ${goaway.message}`, { reconnect: goaway.reconnect })
        : errorFor(
            ErrorCodes.REMOTE_ERROR,
            `Server said goodbye (${goaway.code.slice(0, 64)}): ${goaway.message}`,
            {
              reconnect: goaway.reconnect,
              remoteCode: goaway.code.slice(0, 64),
            },
          )
      conn.close(error)
      if (!goaway.reconnect) this.#finish(error)
      return
    }
    if (kind !== Kind.WELCOME || this.core.established) {
      throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad handshake: unexpected kind ${kind}`)
    }
    const welcome = parseWelcome(payload)
    const resumed = this.#sessionId !== undefined && welcome.resumed && welcome.session === this.#sessionId
    // What rode behind a HELLO on another transport is not on this one.
    if (conn !== this.conn) this.core.forgetEarly()
    if (this.#sessionId !== undefined && !resumed) this.#sessionLost()
    this.#sessionId = welcome.session
    this.#resumeToken = welcome.token
    this.core.heartbeat = { interval: welcome.heartbeat.interval, timeout: welcome.heartbeat.timeout }
    this.core.maxFrameLength = Math.min(this.#ownMaxFrame, welcome.maxFrameLength)
    if (conn instanceof WebSocketClientConnection) conn.agreeBatches(welcome.batch, welcome.maxFrameLength)
    attachTransport(this, conn, resumed ? welcome.lastReceived : 0)
    this.#attempt = 0
    this.#setState('connected')
    publishSession(resumed ? 'resume' : 'open', welcome.session)
    if (resumed) this.#listeners.dispatch('resumed')
    const waiter = this.#welcome
    this.#welcome = undefined
    waiter?.resolve()
  }

  /**
   * The server did not know our session. Messages it may have seen are reported lost; messages never
   * written to any connection are safe to carry into the new session.
   */
  #sessionLost(): void {
    let unacknowledged: UnacknowledgedMessage[] = []
    const error = this.core.lose((lost) => {
      unacknowledged = describeEntries(lost, this.core.payloads)
      return new MessagingError(ErrorCodes.SESSION_LOST, `Session ${this.#sessionId} could not be resumed`, {
        unacknowledged,
      })
    })
    publishSession('lost', this.#sessionId!, error)
    this.#listeners.dispatch('sessionLost', unacknowledged, error)
  }

  onEvent(name: string, data: unknown): void {
    this.#listeners.dispatch(name, data)
  }

  /** A durable room's message is read where it lies in the frame (no copy per subscriber per message). */
  onRawEvent(name: string, frame: Uint8Array, start: number): boolean {
    if (name !== ROOM_EVENT || this.#subscriptions === undefined) return false
    this.#subscriptions.receive(frame, start)
    return true
  }

  handlerFor(method: string): RequestHandler<unknown> | undefined {
    return this.#handlers.get(method) as RequestHandler<unknown> | undefined
  }

  onOutboxFull(size: number, _kind: Kind): void {
    throw new BackpressureError(
      ErrorCodes.BACKPRESSURE,
      `Outbox full: ${this.core.outbox.count} messages / ${this.core.outbox.bytes} bytes unacknowledged (adding ${size})`,
    )
  }

  onClose(conn: Connection, error: Error | undefined): void {
    if (conn !== this.conn) return
    const wasEstablished = this.core.established
    detachTransport(this)
    const waiter = this.#welcome
    if (waiter !== undefined) {
      this.#welcome = undefined
      waiter.reject(error ?? new ClosedError(ErrorCodes.CLOSED, 'Connection closed during the handshake'))
    }
    if (this.#state === 'closed' || !wasEstablished) return
    this.#listeners.dispatch('disconnect', error)
    this.#scheduleReconnect(error)
  }
}

/** Errors after which retrying cannot help. */
function isFatal(error: Error): boolean {
  const code = (error as WirekitError).code
  return code === ErrorCodes.AUTH_FAILED || code === ErrorCodes.AUTH_TIMEOUT
}
