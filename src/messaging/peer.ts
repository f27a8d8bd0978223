// Peer: one client session as the server sees it. It outlives its connections: a resume attaches a new
// transport to the same Peer (same id, rooms and listeners), and the outbox replays what the client
// has not acknowledged. Events: 'detached' (transport lost, resumable), 'resume', 'close' (session ended).

import {
  BackpressureError,
  ClosedError,
  ErrorCodes,
  InvalidArgumentError,
  MessagingError,
  ProtocolError,
} from '../errors.ts'
import type { FrameCodec } from '../framing/index.ts'
import type {
  AdapterPeer,
  BroadcastMessage,
  LiveSession,
  MessagingAdapter,
  SessionSnapshot,
} from './cluster/adapter.ts'
import { delayAck } from './delayed-acks.ts'
import type { Heartbeat } from './heartbeat.ts'
import { type Listener, Listeners } from './listeners.ts'
import { FrameThrottle, type RateLimit } from './rate-limit.ts'
import { isOwnRoomName, secretsMatch, tokenDigest } from './resume-token.ts'
import { ROOM_EVENT } from './room-message.ts'
import type { SessionCore, SessionProfile } from './session/core.ts'
import { type Outbox, type OutboxLimits, rejectEntry } from './session/outbox.ts'
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
import type { Connection } from './transport/connection.ts'
import { Kind } from './wire/envelope.ts'
import { type Goaway, goawayFor, goawayFrame } from './wire/handshake.ts'
import type { PayloadCodecName } from './wire/payload-codec.ts'

export type { RateLimit } from './rate-limit.ts'

/** Names that are lifecycle events on one side or the other: they cannot be sent as messages. */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  'close',
  'connection',
  'detached',
  'disconnect',
  'error',
  'resume',
  'resumed',
  'sessionLost',
  'state',
  // Durable rooms' publications and gaps (room-message.ts): an application emitting it would forge them.
  ROOM_EVENT,
])

// The last name that passed: a stream repeats one event name, so most checks end here.
let lastAllowed = ''
// The same for names arriving from clients.
let lastIncoming = ''

export function checkEventName(event: string): void {
  if (event === lastAllowed) return
  if (typeof event === 'string' && !RESERVED_EVENTS.has(event)) {
    lastAllowed = event
    return
  }
  if (RESERVED_EVENTS.has(event)) throw new InvalidArgumentError(`"${event}" is a reserved event name`)
}

/** What a Peer needs from its server (kept in one object shared by all peers). */
export type PeerCore = {
  codec: FrameCodec
  payloadCodec: PayloadCodecName
  /** Whether peers' MessagePack payloads are decoded (the server's `accept`). */
  acceptsMsgpack: boolean
  heartbeat: Heartbeat
  maxFrameLength: number
  limits: OutboxLimits | undefined
  adapter: MessagingAdapter
  retention: number
  rateLimit: RateLimit | undefined
  /** Requests of one peer handled at once (see MessageServerOptions.maxRequestsPerPeer). */
  maxHandling: number
  /** Rooms one peer may be in (see MessageServerOptions.maxRoomsPerPeer). */
  maxRooms: number
  handlerFor(method: string): RequestHandler<Peer> | undefined
  /** The session ended for good. */
  ended(peer: Peer, reason: Error): void
  /** The transport went away; the session is retained. */
  detached(peer: Peer, error: Error | undefined): void
  /** A listener of `peer` threw and the peer has no 'error' listener: the server's 'error' event. */
  listenerFailed(peer: Peer, error: unknown): void
  /** The session settings all peers share (made by the first peer). */
  profile?: SessionProfile
}

export class Peer implements CoreOwner, AdapterPeer, LiveSession {
  /** The delivery state: sequence numbers, outbox, acks, requests (see session/core.ts). */
  readonly core: SessionCore
  /** The transport in use, if the client is connected. */
  conn: Connection | undefined
  /** The session id: stable across reconnects, and the name of the peer's own room. */
  readonly id: string
  /** What `authenticate` returned for this client. */
  identity: unknown
  /** A slot for application state. */
  data: unknown
  /** True when this node restored the session from another node's stored state (a distributed adapter). */
  restored = false
  #core: PeerCore
  #listeners: Listeners | undefined
  /** The server's rate limit on this peer's messages, if it has one. */
  #throttle: FrameThrottle | undefined
  #storedUpTo = 0
  /** The secret that resumes this session: handed out in the WELCOME only, never listed or printed. */
  readonly #token: string

  constructor(core: PeerCore, id: string, identity: unknown, token: string) {
    // One profile for all the peers of a server.
    core.profile ??= nodeProfile({
      payloadCodec: core.payloadCodec,
      heartbeat: core.heartbeat,
      maxFrameLength: core.maxFrameLength,
      limits: core.limits,
      acceptsMsgpack: core.acceptsMsgpack,
      maxHandling: core.maxHandling,
      // Responses count against the outbox: a client that does not read its responses is cut too.
      forceResponses: false,
    })
    this.core = nodeCore(this, core.profile, core.maxFrameLength)
    this.#core = core
    this.id = id
    this.identity = identity
    this.#token = token
    if (core.rateLimit !== undefined) this.#throttle = new FrameThrottle(core.rateLimit, this)
  }

  get codec(): FrameCodec {
    return this.#core.codec
  }

  /** Whether a transport is attached right now. */
  get connected(): boolean {
    return this.core.established
  }

  /** Next sequence number towards the client. */
  get nextSeq(): number {
    return this.core.nextSeq
  }

  /** Highest sequence number received from the client. */
  get lastReceived(): number {
    return this.core.lastReceived
  }

  /** Messages to the client not yet acknowledged. */
  get outbox(): Outbox {
    return this.core.outbox
  }

  /** Requests of the client's being handled. */
  get handling(): number {
    return this.core.handling
  }

  /** The session has ended (closed, expired, cut): nothing more can be sent. */
  get closed(): boolean {
    return this.core.over
  }

  /** Sends an event; resolves when the client acknowledges it. Queued while the client is away. */
  emit(event: string, data?: unknown): Promise<void> {
    checkEventName(event)
    if (this.core.over) return Promise.reject(new ClosedError(ErrorCodes.CLOSED, `Peer ${this.id} is closed`))
    return this.core.sendEvent(event, data)
  }

  /** Volatile sends: dropped unless connected, never buffered for a resume. */
  get volatile(): { emit(event: string, data?: unknown): boolean } {
    return {
      emit: (event, data) => {
        checkEventName(event)
        return !this.core.over && this.core.sendVolatile(event, data)
      },
    }
  }

  /** Calls a handler registered on the client with `client.handle(method, fn)`. */
  request<T = unknown>(method: string, data?: unknown, options?: RequestOptions): Promise<T> {
    if (this.core.over) return Promise.reject(new ClosedError(ErrorCodes.CLOSED, `Peer ${this.id} is closed`))
    return this.core.sendRequest(method, data, options) as Promise<T>
  }

  /**
   * Client events by name, and lifecycle events: 'detached' (error: the transport was lost, the session
   * is retained), 'resume' (a new transport took over), 'close' (reason: the session ended), 'error'.
   */
  on(event: string, listener: Listener): this {
    this.#listeners ??= new Listeners((error) => this.#core.listenerFailed(this, error))
    this.#listeners.on(event, listener)
    return this
  }

  off(event: string, listener: Listener): this {
    this.#listeners?.off(event, listener)
    return this
  }

  once(event: string, listener: Listener): this {
    this.#listeners ??= new Listeners((error) => this.#core.listenerFailed(this, error))
    this.#listeners.once(event, listener)
    return this
  }

  /**
   * Adds the peer to `room`. Names starting with `~` are peers' own rooms (their ids): joining one throws
   * WK_INVALID_ARGUMENT; beyond maxRoomsPerPeer rooms it throws WK_BACKPRESSURE.
   */
  join(room: string): void {
    if (isOwnRoomName(room))
      throw new InvalidArgumentError(
        `Cannot join "${room.slice(0, 64)}": room names starting with ~ are peers' own rooms`,
      )
    if (this.core.over) return
    const rooms = this.#core.adapter.roomsOf(this)
    // Its own room does not count.
    const joined = rooms.has(this.id) ? rooms.size - 1 : rooms.size
    if (joined >= this.#core.maxRooms && !rooms.has(room)) {
      throw new BackpressureError(
        ErrorCodes.BACKPRESSURE,
        `Peer ${this.id} is in ${joined} rooms already (maxRoomsPerPeer)`,
      )
    }
    this.#core.adapter.join(this, room)
  }

  leave(room: string): void {
    if (isOwnRoomName(room)) return
    this.#core.adapter.leave(this, room)
  }

  get rooms(): ReadonlySet<string> {
    return this.#core.adapter.roomsOf(this)
  }

  /** Ends the session: the client is told not to reconnect, and unacknowledged sends reject with WK_CLOSED. */
  disconnect(reason = 'disconnected by the server'): void {
    this.end(new ClosedError(ErrorCodes.CLOSED, reason), {
      code: ErrorCodes.CLOSED,
      message: reason,
      reconnect: false,
    })
  }

  // ——— server side ———

  /** Whether `presented` is this session's resume token (constant-time comparison). */
  tokenMatches(presented: unknown): boolean {
    return secretsMatch(presented, this.#token)
  }

  /** The resume token, for the WELCOME of this session's transports only. */
  get resumeToken(): string {
    return this.#token
  }

  /** Puts `conn` under this session after a successful handshake (new session or resume). */
  takeover(conn: Connection, peerLastReceived: number, welcome: Buffer): void {
    const old = this.conn
    if (old !== undefined && old !== conn) {
      // Usually the client came back before we noticed it had gone; if the old transport is in fact a
      // live second device holding the same token, it is told why it ends (it must not lose messages
      // silently): the new transport gets everything not yet acknowledged.
      detachTransport(this)
      old.owner = orphan
      old.close(
        undefined,
        goawayFrame(this.codec, {
          code: ErrorCodes.SESSION_TAKEN_OVER,
          message: `Session ${this.id} was resumed on another connection`,
          reconnect: false,
        }),
      )
    }
    conn.owner = this
    this.core.queueControl(welcome)
    attachTransport(this, conn, peerLastReceived)
    this.#core.adapter.sessions.attach(this)
  }

  deliver(message: BroadcastMessage): void {
    if (this.core.over) return
    try {
      if (message.volatile) this.core.queueVolatile(message.event, message.format, message.body)
      else this.core.enqueueBody(Kind.EVENT, 0, message.event, message.format, message.body)
    } catch (error) {
      // The slow-consumer cut already happened; an oversize message is refused for everyone alike.
      if (!(error instanceof MessagingError) && !(error instanceof InvalidArgumentError)) throw error
    }
  }

  /** Ends the session for good. With a GOAWAY, the client hears why before the connection closes. */
  end(reason: Error, goaway?: Goaway): void {
    if (this.core.over) return
    this.core.over = true
    const conn = this.conn
    detachTransport(this)
    if (conn !== undefined && !conn.closed) conn.close(undefined, goaway && goawayFrame(this.codec, goaway))
    this.core.end(() => reason)
    this.#core.ended(this, reason)
    this.#listeners?.dispatch('close', reason)
  }

  /** The server is shutting down: close the transport with a GOAWAY, keep the stored session. */
  shutdown(goaway: Goaway): void {
    this.core.over = true
    const conn = this.conn
    detachTransport(this)
    if (conn !== undefined && !conn.closed) conn.close(undefined, goawayFrame(this.codec, goaway))
    // Another node may still deliver them from a shared store; this process can no longer tell.
    // One error for all of this peer's sends, made only when one waits: closing a server with 10k
    // idle peers should not capture 10k stack traces.
    let error: ClosedError | undefined
    const closing = (): ClosedError =>
      (error ??= new ClosedError(ErrorCodes.SERVER_CLOSING, 'Server closed before the client acknowledged'))
    for (const entry of this.outbox) if (entry.settle !== undefined) rejectEntry(entry, closing())
    this.core.failSentRequests(closing, true)
  }

  snapshot(): SessionSnapshot {
    return {
      id: this.id,
      identity: this.identity,
      tokenDigest: tokenDigest(this.#token),
      nextSeq: this.nextSeq,
      lastReceived: this.lastReceived,
      rooms: [...this.rooms].filter((room) => room !== this.id),
      unacknowledged: [...this.outbox].map(({ settle: _, ...stored }) => stored),
    }
  }

  /** Restores a session another node stored (a distributed adapter). */
  restore(snapshot: SessionSnapshot): void {
    this.restored = true
    const stored = snapshot.unacknowledged
    this.core.restore({
      nextSeq: snapshot.nextSeq,
      lastReceived: snapshot.lastReceived,
      // Everything stored was written to the client once, by the node that stored it.
      sentUpTo: stored.length > 0 ? stored[stored.length - 1]!.seq : 0,
      entries: stored,
    })
    this.#storedUpTo = snapshot.nextSeq - 1
    // Rooms it held on another node (whose maxRoomsPerPeer may differ): restored as they were, never refused.
    for (const room of snapshot.rooms) this.#core.adapter.join(this, room)
  }

  expire(): void {
    this.end(
      new MessagingError(ErrorCodes.SESSION_LOST, `Session ${this.id} expired after its retention window`),
    )
  }

  // ——— the core and the transport (SessionHost, ConnectionOwner) ———

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

  /** Writes what is pending now (the server, right after a WELCOME). */
  flush(): void {
    flushSession(this)
  }

  delayAck(ms: number): void {
    delayAck(this, ms)
  }

  ackTimerFired(): void {
    this.core.ackTimerFired()
  }

  sweep(now: number): void {
    sweepSession(this, now)
  }

  onEvent(name: string, data: unknown): void {
    // A client naming an event 'close' or 'error' would fire the application's lifecycle listeners.
    if (name !== lastIncoming) {
      if (RESERVED_EVENTS.has(name)) {
        throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: "${name}" is a reserved event name`)
      }
      lastIncoming = name
    }
    this.#listeners?.dispatch(name, data)
  }

  handlerFor(method: string): RequestHandler<unknown> | undefined {
    return this.#core.handlerFor(method) as RequestHandler<unknown> | undefined
  }

  onControl(kind: Kind, _payload: unknown): void {
    const conn = frameSource()
    if (kind === Kind.BYE) {
      // The client closed its session: nothing to retain.
      conn.close(undefined)
      this.end(new ClosedError(ErrorCodes.CLOSED, 'The client closed the session'))
      return
    }
    throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: unexpected kind ${kind} after the handshake`)
  }

  /** A peer that cannot take what the server sends is cut: memory stays bounded. */
  onOutboxFull(size: number, _kind: Kind): void {
    const message = `Peer ${this.id} is not reading: ${this.outbox.count} messages / ${this.outbox.bytes + size} bytes buffered`
    this.#core.adapter.sessions.delete(this.id)
    this.end(new MessagingError(ErrorCodes.SLOW_CONSUMER, message), {
      code: ErrorCodes.SLOW_CONSUMER,
      message,
      reconnect: true,
    })
    throw new MessagingError(ErrorCodes.SLOW_CONSUMER, message)
  }

  onFrame(frame: Buffer, conn: Connection): void {
    const throttle = this.#throttle
    if (throttle !== undefined && this.core.established && conn === this.conn && !throttle.admit(frame, conn))
      return
    receiveFrame(this, frame, conn)
  }

  beforeFlush(): void {
    const store = this.#core.adapter.sessions
    if (!store.tracksChanges || this.core.over) return
    const appended = this.outbox.entriesAfter(this.#storedUpTo).map(({ settle: _, ...stored }) => stored)
    this.#storedUpTo = this.nextSeq - 1
    store.update(this, {
      appended,
      acked: this.outbox.ackedBefore(this.nextSeq),
      lastReceived: this.lastReceived,
      nextSeq: this.nextSeq,
    })
  }

  onClose(conn: Connection, error: Error | undefined): void {
    if (conn !== this.conn) return
    detachTransport(this)
    if (this.core.over) return
    if (error instanceof ProtocolError) {
      // A peer that broke the protocol has no trustworthy state left to resume.
      this.#core.adapter.sessions.delete(this.id)
      this.end(error)
      return
    }
    this.#core.detached(this, error)
    this.#listeners?.dispatch('detached', error)
  }

  /** Called by the server once a resumed transport is in place. */
  resumed(): void {
    this.#listeners?.dispatch('resume')
  }
}

// Owner of a transport that a resume replaced: whatever it still reads or reports is ignored.
const orphan = {
  onFrame(): void {},
  onChunk(): void {},
  onWritable(): void {},
  farewell(): undefined {
    return undefined
  },
  onClose(): void {},
}
