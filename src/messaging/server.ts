// MessageServer: accepts connections on any number of listeners, runs the handshake (authenticate with a
// timeout, resume or open a session), and routes messages: handlers for requests, rooms and broadcast
// through the adapter. Protects itself: max frame size, max connections, per-peer buffer cap, rate limit.

import type { Server as HttpServer } from 'node:http'
import { isDeepStrictEqual } from 'node:util'
import type { WebSocket } from 'ws'
import {
  ClosedError,
  ConnectError,
  ErrorCodes,
  InvalidArgumentError,
  MessagingError,
  ProtocolError,
  TimeoutError,
  type WirekitError,
} from '../errors.ts'
import type { FrameCodec } from '../framing/index.ts'
import type { AsyncSocket } from '../socket/index.ts'
import { delay, startTimer } from '../util/timeout.ts'
import { Admission, defaultMaxConnections } from './admission.ts'
import { publishError, publishSession, slowConsumerChannel } from './channels.ts'
import type { MessagingAdapter, PeerInfo, SessionSnapshot } from './cluster/adapter.ts'
import type { HistoryOptions, HistoryPosition } from './cluster/history/index.ts'
import { MemoryAdapter } from './cluster/memory-adapter.ts'
import { type BroadcastContext, BroadcastOperator } from './cluster/rooms/broadcast-operator.ts'
import {
  type AuthorizeSubscribe,
  type RoomHistoryEntry,
  RoomSubscriptions,
} from './cluster/rooms/room-subscriptions.ts'
import { type HeartbeatOptions, resolveHeartbeat } from './heartbeat.ts'
import { type Listener, Listeners } from './listeners.ts'
import { Peer, type PeerCore, type RateLimit } from './peer.ts'
import { newResumeToken, newSessionId, secretsMatch, tokenDigest } from './resume-token.ts'
import { SUBSCRIBE_METHOD, UNSUBSCRIBE_METHOD } from './room-message.ts'
import type { OutboxLimits } from './session/outbox.ts'
import { MAX_EARLY_FRAME_BYTES, type RequestHandler } from './session.ts'
import { Connection, type ConnectionOwner } from './transport/connection.ts'
import {
  type ListenAddress,
  type ListenOptions,
  listen,
  type Listener as NetListener,
} from './transport/stream.ts'
import {
  attachWebSocket,
  listenWebSocket,
  WebSocketConnection,
  type WebSocketOptions,
} from './transport/websocket-server.ts'
import { decodeEnvelope, Format, Kind, newEnvelope } from './wire/envelope.ts'
import { encodeFrame, wireCodec } from './wire/frame-writer.ts'
import {
  checkHelloFrame,
  DEFAULT_MAX_HELLO_LENGTH,
  goawayFor,
  goawayFrame,
  type Hello,
  PROTOCOL_VERSION,
  parseHello,
  type Welcome,
} from './wire/handshake.ts'
import { acceptsMsgpack, decodePayload, type PayloadCodecName, refusedFormat } from './wire/payload-codec.ts'

export type AuthenticateInfo = { remoteAddress: string | undefined }

export type MessageServerOptions = {
  /** Ping/dead-peer timing, sent to clients in the handshake. @default { interval: 15_000, timeout: 10_000 } */
  heartbeat?: HeartbeatOptions
  /** Rooms, broadcast and session storage. @default new MemoryAdapter() */
  adapter?: MessagingAdapter
  /**
   * Checks the client's credentials; returns its identity (any value, `peer.identity`). Throwing or
   * returning `false` refuses the client with WK_AUTH_FAILED.
   */
  authenticate?: (credentials: unknown, info: AuthenticateInfo) => unknown
  /** Largest HELLO (credentials included) parsed, in bytes; a bigger one is cut with WK_PROTOCOL. @default 16 KiB */
  maxHelloLength?: number
  /** Time allowed for the HELLO and for `authenticate`, in ms; then WK_AUTH_TIMEOUT. @default 5_000 */
  authTimeout?: number
  /** How long a disconnected session stays resumable, in ms. @default 60_000 */
  retention?: number
  /** Largest frame accepted or sent, in bytes; bigger ones close the connection with a protocol error. @default 1 MiB */
  maxFrameLength?: number
  /**
   * Most simultaneous connections (handshaking ones included). A newcomer beyond it closes the oldest
   * connection still in its handshake (WK_MAX_CONNECTIONS), so silent connections cannot lock out a
   * client that logs in; when all have logged in, the newcomer is refused with WK_MAX_CONNECTIONS.
   * @default 10_000, or the process's open-file limit minus 128 when lower (Linux)
   */
  maxConnections?: number
  /**
   * Most simultaneous connections from one remote address, with the same rule. Behind a proxy every
   * client has the proxy's address: raise it there. @default 1024
   */
  maxConnectionsPerAddress?: number
  /**
   * Largest frame accepted before the WELCOME (the HELLO and what a resuming client sends behind it), in
   * bytes, at least 16 KiB: a stranger cannot make the server hold big frames. @default 64 KiB
   */
  maxHandshakeFrameLength?: number
  /** Per-peer cap of unacknowledged server→client messages; a peer over it is cut with WK_SLOW_CONSUMER. @default { maxMessages: 10_000, maxBytes: 4 MiB } */
  peerBuffer?: OutboxLimits
  /**
   * Requests of one peer handled at once; one more is answered with WK_BACKPRESSURE without running its
   * handler. @default 256
   */
  maxRequestsPerPeer?: number
  /** Rooms one peer may be in; `peer.join()` beyond it throws WK_BACKPRESSURE. @default 1000 */
  maxRoomsPerPeer?: number
  /** Optional per-peer inbound message rate limit. */
  rateLimit?: RateLimit
  /** How the server encodes structured payloads. @default 'json' */
  codec?: PayloadCodecName
  /**
   * Payload formats the server decodes; JSON and raw bytes always are. A client sending another format
   * is cut with WK_PROTOCOL. @default [codec]
   * @example new MessageServer({ accept: ['json', 'msgpack'] })
   */
  accept?: PayloadCodecName[]
  /**
   * Durable rooms: every room keeps a log (`publish`, `to(room).emit`) that `client.subscribe(room, { recover })`
   * replays after any reconnect or restart. Without it rooms keep no history.
   * @example { store: 'sqlite', path: './wirekit-history.sqlite', maxMessages: 10_000, rooms: { 'typing:*': false } }
   */
  history?: HistoryOptions
}

/** The limits a server enforces, defaults filled in (see MessageServerOptions and README "Limits"). */
export type ServerLimits = {
  maxConnections: number
  maxConnectionsPerAddress: number
  authTimeout: number
  maxHandshakeFrameLength: number
  maxFrameLength: number
  maxRequestsPerPeer: number
  maxRoomsPerPeer: number
}

export type CloseOptions = {
  /** Wait up to this many ms for in-flight requests to finish and sent messages to be acknowledged. @default 0 */
  drain?: number
}

/** A connection before its WELCOME: frames after the HELLO (a resuming client's resends) wait here. */
type Greeting = { timerCancel: () => void; helloSeen: boolean; early: Buffer[]; earlyBytes: number }

const envelope = newEnvelope()
/** How long closing connections get to take their GOAWAY before the listeners destroy them. */
const CLOSE_LINGER_MS = 1000
/** Bytes a resuming client may send behind its HELLO before the WELCOME. */
const MAX_EARLY_BYTES = 1024 * 1024

/**
 * A messaging server.
 * @example
 * const server = new MessageServer({ heartbeat: { interval: 15_000, timeout: 10_000 } })
 * server.handle('echo', async (data) => data)
 * await server.listen({ port: 9000 })
 */
export class MessageServer {
  readonly adapter: MessagingAdapter
  #codec: FrameCodec
  #handlers = new Map<string, RequestHandler<Peer>>()
  #listeners = new Listeners((error) =>
    this.#report(error instanceof Error ? error : new Error(String(error))),
  )
  #nets: NetListener[] = []
  #peers = new Map<string, Peer>()
  #admission: Admission
  #limits: ServerLimits
  #closing = false
  #closed = false
  #maxHello: number
  #core: PeerCore
  #broadcast: BroadcastContext
  #history: RoomSubscriptions | undefined
  #options: Required<
    Pick<
      MessageServerOptions,
      'authTimeout' | 'retention' | 'maxFrameLength' | 'maxConnections' | 'maxHandshakeFrameLength'
    >
  > &
    MessageServerOptions

  constructor(options: MessageServerOptions = {}) {
    const maxFrameLength = options.maxFrameLength ?? 1024 * 1024
    if (!(maxFrameLength >= 64)) throw new InvalidArgumentError('maxFrameLength must be at least 64 bytes')
    const maxHandshakeFrameLength = options.maxHandshakeFrameLength ?? 64 * 1024
    if (!(maxHandshakeFrameLength >= MAX_EARLY_FRAME_BYTES)) {
      throw new InvalidArgumentError(
        `maxHandshakeFrameLength must be at least ${MAX_EARLY_FRAME_BYTES} bytes`,
      )
    }
    this.#options = {
      ...options,
      authTimeout: options.authTimeout ?? 5_000,
      retention: options.retention ?? 60_000,
      maxFrameLength,
      maxConnections: options.maxConnections ?? defaultMaxConnections(),
      maxHandshakeFrameLength: Math.min(maxHandshakeFrameLength, maxFrameLength),
    }
    this.#limits = {
      maxConnections: this.#options.maxConnections,
      maxConnectionsPerAddress: positive(
        options.maxConnectionsPerAddress ?? 1024,
        'maxConnectionsPerAddress',
      ),
      authTimeout: this.#options.authTimeout,
      maxHandshakeFrameLength: this.#options.maxHandshakeFrameLength,
      maxFrameLength,
      maxRequestsPerPeer: positive(options.maxRequestsPerPeer ?? 256, 'maxRequestsPerPeer'),
      maxRoomsPerPeer: positive(options.maxRoomsPerPeer ?? 1000, 'maxRoomsPerPeer'),
    }
    this.#admission = new Admission(this.#limits, (conn) =>
      conn.close(
        new ConnectError(ErrorCodes.MAX_CONNECTIONS, 'Closed in its handshake to make room'),
        this.#goaway(ErrorCodes.MAX_CONNECTIONS, 'Server is full', true),
      ),
    )
    this.#maxHello = options.maxHelloLength ?? DEFAULT_MAX_HELLO_LENGTH
    if (!(this.#maxHello >= 64)) throw new InvalidArgumentError('maxHelloLength must be at least 64 bytes')
    this.adapter = options.adapter ?? new MemoryAdapter()
    this.#codec = wireCodec(maxFrameLength)
    const peers = this.#peers
    const listeners = this.#listeners
    const handlers = this.#handlers
    const adapter = this.adapter
    const retention = this.#options.retention
    this.#core = {
      codec: this.#codec,
      payloadCodec: options.codec ?? 'json',
      acceptsMsgpack: acceptsMsgpack(options.accept ?? [options.codec ?? 'json']),
      heartbeat: resolveHeartbeat(options.heartbeat),
      maxFrameLength,
      limits: { maxMessages: 10_000, maxBytes: 4 * 1024 * 1024, ...options.peerBuffer },
      adapter,
      retention,
      rateLimit: options.rateLimit,
      maxHandling: this.#limits.maxRequestsPerPeer,
      maxRooms: this.#limits.maxRoomsPerPeer,
      handlerFor: (method) => handlers.get(method),
      ended(peer, reason) {
        peers.delete(peer.id)
        adapter.removePeer(peer)
        adapter.sessions.delete(peer.id)
        if (
          (reason as WirekitError).code === ErrorCodes.SLOW_CONSUMER &&
          slowConsumerChannel.hasSubscribers
        ) {
          slowConsumerChannel.publish({ peer: peer.id })
        }
        publishSession('close', peer.id, reason)
        listeners.dispatch('disconnect', peer, reason)
      },
      listenerFailed: (peer, error) =>
        this.#report(error instanceof Error ? error : new Error(String(error)), peer),
      detached(peer, _error) {
        if (retention <= 0) {
          peer.expire()
          return
        }
        adapter.sessions.detach(peer, retention)
      },
    }
    if (options.history !== undefined) {
      const history = new RoomSubscriptions(
        options.history,
        this.#core.payloadCodec,
        (error) => listeners.fail(error),
        this.#core.acceptsMsgpack,
      )
      this.#history = history
      handlers.set(SUBSCRIBE_METHOD, (data, peer) => history.subscribe(peer, data))
      handlers.set(UNSUBSCRIBE_METHOD, (data, peer) => history.unsubscribe(peer, data))
    }
    this.#broadcast = { adapter, codec: this.#core.payloadCodec, maxFrameLength, history: this.#history }
  }

  /**
   * Starts listening; call again to listen on more addresses (TCP, TLS, Unix path). With `websocket`
   * it is an HTTP(S) server upgrading `websocket.path` for WebSocket clients (ws://, with `tls` wss://).
   */
  async listen(options: ListenOptions): Promise<ListenAddress> {
    if (this.#closing) throw new ClosedError(ErrorCodes.SERVER_CLOSING, 'Server is closing')
    const websocket = options.websocket
    const net =
      websocket === undefined
        ? await listen(options, (transport) => this.#accept(transport))
        : await listenWebSocket({ ...options, websocket }, this.#options.maxFrameLength, (ws, address) =>
            this.#acceptWebSocket(ws, address),
          )
    this.#nets.push(net)
    return net.address
  }

  /**
   * Takes WebSocket upgrades of `options.path` on an existing node:http(s) server (the server keeps
   * serving its other requests). Closing this MessageServer stops taking them.
   */
  attach(server: HttpServer, options: WebSocketOptions = {}): this {
    if (this.#closing) throw new ClosedError(ErrorCodes.SERVER_CLOSING, 'Server is closing')
    const detach = attachWebSocket(server, options, this.#options.maxFrameLength, (ws, address) =>
      this.#acceptWebSocket(ws, address),
    )
    const raw = server.address()
    const address: ListenAddress =
      raw !== null && typeof raw === 'object' ? { port: raw.port, host: raw.address } : { path: String(raw) }
    this.#nets.push({
      address,
      close: async () => {
        detach()
      },
    })
    return this
  }

  /** The addresses listened on. */
  get addresses(): ListenAddress[] {
    return this.#nets.map((n) => n.address)
  }

  /** Registers the handler of `method`: its (awaited) return value is the response. */
  handle<T = unknown>(method: string, handler: (data: T, peer: Peer) => unknown): this {
    if (typeof handler !== 'function')
      throw new InvalidArgumentError('handle(method, handler) needs a function')
    this.#handlers.set(method, handler as RequestHandler<Peer>)
    return this
  }

  /**
   * 'connection' (peer), 'disconnect' (peer, reason: the session ended), 'error' (error, peer?: a
   * listener of the server or of a peer threw, or the session store failed; `error.peer` is set too).
   * Without an 'error' listener these go to debuglog (`NODE_DEBUG=wirekit`): never a crash.
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

  /** Sessions on this node (connected or retained), by id. */
  get peers(): ReadonlyMap<string, Peer> {
    return this.#peers
  }

  /**
   * Sessions in `room` (every session when undefined), connected or retained, on every node the
   * adapter knows: MemoryAdapter answers with this process's, RedisAdapter asks every node
   * (WK_REQUEST_TIMEOUT if one does not answer within `timeout`, WK_ADAPTER_UNAVAILABLE during an outage).
   */
  fetchPeers(room?: string, options?: { timeout?: number }): Promise<PeerInfo[]> {
    if (this.adapter.fetchPeers !== undefined) return this.adapter.fetchPeers(room, options)
    // An adapter without presence: this node's sessions are all anyone can know.
    const out: PeerInfo[] = []
    for (const peer of this.adapter.peersIn(room))
      out.push({ id: peer.id, node: 'local', connected: peer.connected, identity: peer.identity })
    return Promise.resolve(out)
  }

  /** The limits in force (the options, with their defaults filled in). */
  get limits(): Readonly<ServerLimits> {
    return this.#limits
  }

  /** Connections open right now (handshaking ones included). */
  get connectionCount(): number {
    return this.#admission.size
  }

  /** Messages to the peers in `room` (chain `.to()` for more rooms, `.except()` to exclude). */
  to(room: string): BroadcastOperator {
    return new BroadcastOperator(this.#broadcast).to(room)
  }

  except(room: string): BroadcastOperator {
    return new BroadcastOperator(this.#broadcast).except(room)
  }

  /**
   * Appends a publication to a durable room's log, then delivers it to the room's subscribers; resolves
   * with its place in the log once stored. Needs the `history` option.
   * @example const { offset, epoch } = await server.publish('lobby', 'chat', { text: 'hi' })
   */
  publish(room: string, name: string, data?: unknown): Promise<HistoryPosition> {
    if (this.#history === undefined) throw new InvalidArgumentError('publish() needs the history option')
    return this.#history.publish(room, name, data)
  }

  /**
   * The last `last` publications of a durable room (default 50, at most 1000), oldest first, decoded,
   * each with its place in the log. For showing a room's recent past (a page that just joined); a
   * subscriber that wants everything uses `client.subscribe(room, { since })`. Needs the `history` option.
   * @example const lines = await server.history('lobby', { last: 50 })
   */
  history(room: string, options?: { last?: number }): Promise<RoomHistoryEntry[]> {
    if (this.#history === undefined) throw new InvalidArgumentError('history() needs the history option')
    return this.#history.recent(room, options?.last ?? 50)
  }

  /**
   * Decides who may subscribe to which durable room. Without it every durable room is readable by
   * every client that passed `authenticate`. A refusal rejects `subscribe()` with WK_SUBSCRIBE_DENIED.
   */
  authorizeSubscribe(fn: AuthorizeSubscribe): this {
    if (this.#history === undefined)
      throw new InvalidArgumentError('authorizeSubscribe() needs the history option')
    this.#history.authorize(fn)
    return this
  }

  /** Sends an event to every peer (reliable: queued for disconnected sessions within retention). */
  emit(event: string, data?: unknown): void {
    new BroadcastOperator(this.#broadcast).emit(event, data)
  }

  get volatile(): BroadcastOperator {
    return new BroadcastOperator(this.#broadcast).volatile
  }

  /**
   * Stops accepting, lets in-flight requests finish and sent messages be acknowledged (up to `drain` ms),
   * then tells every client to reconnect (WK_SERVER_CLOSING) and closes.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    const drain = options.drain ?? 0
    // Stop accepting now; the listeners wait for our connections to end (GOAWAY below), then destroy stragglers.
    const listenersClosed = Promise.all(this.#nets.map((n) => n.close(drain + CLOSE_LINGER_MS).catch(noop)))
    const deadline = Date.now() + drain
    while (Date.now() < deadline && !this.#drained())
      await delay(Math.min(10, Math.max(1, deadline - Date.now())))
    const goaway = { code: ErrorCodes.SERVER_CLOSING, message: 'Server is closing', reconnect: true }
    for (const peer of [...this.#peers.values()]) peer.shutdown(goaway)
    for (const conn of [...this.#admission.connections])
      conn.close(undefined, goawayFrame(this.#codec, goaway))
    this.#peers.clear()
    await listenersClosed
    await this.adapter.close()
    await this.#history?.close()
    this.#closed = true
  }

  #drained(): boolean {
    for (const peer of this.#peers.values()) {
      if (peer.handling > 0) return false
      if (peer.connected && peer.outbox.count > 0) return false
    }
    return true
  }

  // ——— connections and handshake ———

  #acceptWebSocket(ws: WebSocket, remoteAddress: string | undefined): void {
    const greeting: Greeting = { timerCancel: noop, helloSeen: false, early: [], earlyBytes: 0 }
    this.#admit(
      new WebSocketConnection(ws, this.#codec, this.#greeter(greeting, remoteAddress), remoteAddress),
      greeting,
    )
  }

  #accept(transport: AsyncSocket): void {
    const greeting: Greeting = { timerCancel: noop, helloSeen: false, early: [], earlyBytes: 0 }
    this.#admit(
      new Connection(transport, this.#codec, this.#greeter(greeting, transport.remoteAddress)),
      greeting,
    )
  }

  /** Admits a new connection of any transport (or refuses it with a GOAWAY) and starts its handshake clock. */
  #admit(conn: Connection, greeting: Greeting): void {
    const refused = this.#closing ? ErrorCodes.SERVER_CLOSING : this.#admission.admit(conn)
    if (refused !== undefined) {
      // The GOAWAY is written, then the socket ends (destroyed after a short linger if the peer stalls).
      conn.close(
        undefined,
        goawayFrame(this.#codec, { code: refused, message: 'Server is full or closing', reconnect: true }),
      )
      return
    }
    conn.limitFrames(this.#options.maxHandshakeFrameLength)
    greeting.timerCancel = startTimer(this.#options.authTimeout, () => {
      conn.close(
        new TimeoutError(ErrorCodes.AUTH_TIMEOUT, 'No HELLO in time'),
        this.#goaway(ErrorCodes.AUTH_TIMEOUT, 'Handshake timed out'),
      )
    })
    conn.start()
  }

  #goaway(code: string, message: string, reconnect = false): Buffer {
    return goawayFrame(this.#codec, { code, message, reconnect })
  }

  /** The owner of a connection until its HELLO is answered. */
  #greeter(greeting: Greeting, remoteAddress: string | undefined): ConnectionOwner {
    const codec = this.#codec
    return {
      onFrame: (frame, conn) => {
        const env = decodeEnvelope(frame, envelope)
        if (greeting.helloSeen) {
          // Held (copied: frames are slices of the read buffer) until the session is known.
          greeting.earlyBytes += frame.length
          if (greeting.earlyBytes > MAX_EARLY_BYTES) {
            throw new ProtocolError(
              ErrorCodes.PROTOCOL,
              `Bad handshake: over ${MAX_EARLY_BYTES} bytes before the WELCOME`,
            )
          }
          greeting.early.push(Buffer.from(frame))
          return
        }
        if (env.kind !== Kind.HELLO) {
          throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad handshake: expected HELLO, got kind ${env.kind}`)
        }
        greeting.helloSeen = true
        if (env.format === Format.MSGPACK && !this.#core.acceptsMsgpack) throw refusedFormat(env.format)
        checkHelloFrame(frame, env.payloadStart, env.format === Format.JSON, this.#maxHello)
        const hello = parseHello(decodePayload(frame, env.payloadStart, env.format))
        void this.#welcome(conn, hello, greeting, remoteAddress)
      },
      onChunk: noop,
      onWritable: noop,
      farewell: (error) => goawayFor(codec, error),
      onClose: () => greeting.timerCancel(),
    }
  }

  async #welcome(
    conn: Connection,
    hello: Hello,
    greeting: Greeting,
    remoteAddress: string | undefined,
  ): Promise<void> {
    let identity: unknown
    const authenticate = this.#options.authenticate
    if (authenticate !== undefined) {
      try {
        identity = await authenticate(hello.credentials, { remoteAddress })
        if (identity === false) throw new MessagingError(ErrorCodes.AUTH_FAILED, 'Credentials refused')
      } catch (error) {
        greeting.timerCancel()
        const message = `Authentication failed: ${(error as Error)?.message ?? String(error)}`
        conn.close(
          new MessagingError(ErrorCodes.AUTH_FAILED, message),
          this.#goaway(ErrorCodes.AUTH_FAILED, message),
        )
        return
      }
    }
    greeting.timerCancel()
    if (conn.closed) return
    if (this.#closing) {
      conn.close(undefined, this.#goaway(ErrorCodes.SERVER_CLOSING, 'Server is closing', true))
      return
    }
    let peer: Peer | undefined
    const local = hello.session === undefined ? undefined : this.#peers.get(hello.session)
    if (hello.session !== undefined) peer = await this.#resume(hello, identity)
    if (conn.closed) return
    const resumed = peer !== undefined
    if (peer === undefined) {
      peer = new Peer(this.#core, newSessionId(), identity, newResumeToken())
      this.#peers.set(peer.id, peer)
      this.adapter.addPeer(peer)
      this.adapter.sessions.open(peer, this.#options.retention)
    }
    const welcome: Welcome = {
      v: PROTOCOL_VERSION,
      session: peer.id,
      token: peer.resumeToken,
      resumed,
      lastReceived: peer.lastReceived,
      heartbeat: this.#core.heartbeat,
      maxFrameLength: this.#options.maxFrameLength,
    }
    if (conn instanceof WebSocketConnection) {
      welcome.batch = conn.agreeBatches(hello.batch, this.#options.maxFrameLength)
    }
    const frame = encodeFrame(this.#codec, Kind.WELCOME, Format.JSON, { body: JSON.stringify(welcome) })
    conn.limitFrames(undefined)
    this.#admission.loggedIn(conn)
    try {
      peer.takeover(conn, resumed ? hello.lastReceived : 0, frame)
    } catch (error) {
      conn.close(error as Error, goawayFor(this.#codec, error as Error))
      peer.end(error as Error)
      return
    }
    const early = greeting.early
    greeting.early = []
    // A resumed session applies what the client sent behind its HELLO; a new one drops it unread
    // (the client then reports those messages in sessionLost).
    if (resumed && early.length > 0) {
      // The WELCOME goes out first, so whatever these frames cause (a GOAWAY) comes after it.
      peer.flush()
      try {
        for (const frame of early) peer.onFrame(frame, conn)
        peer.onChunk(conn)
      } catch (error) {
        conn.close(error as Error, goawayFor(this.#codec, error as Error))
        return
      }
    }
    publishSession(resumed ? 'resume' : 'open', peer.id)
    // A session restored from another node's store is new to this process's application: 'connection'.
    if (resumed && peer === local) peer.resumed()
    else this.#listeners.dispatch('connection', peer)
  }

  /**
   * The session `hello` asks for, if the client proves it owns it: its resume token (constant-time
   * comparison) and the identity that opened it (`true`/`undefined` identify nobody, so the token always
   * decides). Anything else gets a new session and leaves the owner undisturbed.
   */
  async #resume(hello: Hello, identity: unknown): Promise<Peer | undefined> {
    const id = hello.session!
    const token = hello.token
    // Without a token there is nothing to check: no store is asked, no owner is disturbed.
    if (typeof token !== 'string') return undefined
    const lastReceived = hello.lastReceived
    let claimed: Peer | SessionSnapshot | undefined
    try {
      claimed = (await this.adapter.sessions.claim(id, { lastReceived, token, identity })) as
        | Peer
        | SessionSnapshot
        | undefined
    } catch (error) {
      // The client gets a new session (and reports sessionLost); the operator hears why.
      this.#report(
        new MessagingError(
          ErrorCodes.SESSION_STORE_FAILED,
          `Session ${id} could not be resumed, a new session was opened: ${(error as Error)?.message ?? String(error)}`,
          { cause: error },
        ),
      )
      return undefined
    }
    if (claimed === undefined) return undefined
    // A session belongs to the identity that opened it: someone else presenting its id gets a new one.
    if (!isDeepStrictEqual(claimed.identity, identity)) return undefined
    if (claimed instanceof Peer) return claimed.closed || !claimed.tokenMatches(token) ? undefined : claimed
    if (!secretsMatch(tokenDigest(token), claimed.tokenDigest)) return undefined
    // A copy that never sent as far as the client received is stale, whatever the store thought: the
    // session is lost (sessionLost on the client), not a protocol error on its first ack.
    if (lastReceived > claimed.nextSeq - 1) return undefined
    const peer = new Peer(this.#core, claimed.id, identity, token)
    this.#peers.set(peer.id, peer)
    this.adapter.addPeer(peer)
    peer.restore(claimed)
    this.adapter.sessions.open(peer, this.#options.retention)
    return peer
  }

  /** A failure no caller can be told of: the 'error' listeners, else debuglog (never a crash). */
  #report(error: Error, peer?: Peer): void {
    if (peer !== undefined) (error as Error & { peer?: Peer }).peer ??= peer
    const heard = this.#listeners.has('error')
    publishError(error, peer?.id, !heard)
    if (heard) this.#listeners.dispatch('error', error, peer)
  }

  get closed(): boolean {
    return this.#closed
  }
}

function noop(): void {}

function positive(value: number, name: string): number {
  if (!(value >= 1)) throw new InvalidArgumentError(`${name} must be at least 1, got ${value}`)
  return value
}
