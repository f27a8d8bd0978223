// The delivery engine shared by MessageClient and the server's Peer: sequence numbers, cumulative
// acks, the outbox, request/response pairing, heartbeats and the coalesced writer. A session outlives
// its connections: a new transport is attached after a resume and the outbox is replayed onto it.

import { ErrorCodes, InvalidArgumentError, ProtocolError, TimeoutError } from '../errors.ts'
import type { FrameCodec } from '../framing/codec.ts'
import { handlerChannel, publishResend } from './channels.ts'
import type { Connection, ConnectionOwner } from './connection.ts'
import { delayAck, noteRead } from './delayed-acks.ts'
import { checkName, decodeEnvelope, Flag, Format, Kind, newEnvelope, requireName } from './envelope.ts'
import { encodeFrame, envelopeLength, writeFrame } from './frame-writer.ts'
import { goawayFor } from './handshake.ts'
import { type Heartbeat, type Sweepable, type Sweeper, sweeperFor } from './heartbeat.ts'
import { Outbox, type OutboxEntry, type OutboxLimits } from './outbox.ts'
import {
  type Body,
  bodyLength,
  decodePayload,
  encodeBody,
  formatOf,
  type PayloadCodecName,
  refusedFormat,
} from './payload-codec.ts'
import { abortError, PendingRequests, remoteError } from './requests.ts'

/** A request handler: its return value (or resolved value) is the response; a throw reaches the caller. */
// biome-ignore lint/suspicious/noExplicitAny: handlers receive whatever the remote sent
export type RequestHandler<Context> = (data: any, context: Context) => unknown

export type RequestOptions = {
  /** Reject with WK_REQUEST_TIMEOUT after this many ms (the request may still run remotely). @default 30_000 */
  timeout?: number
  /** Reject with WK_ABORTED when aborted. */
  signal?: AbortSignal
}

type VolatileMessage = { name: string; flags: number; body: Body; bodyBytes: number; size: number }

const MAX_BATCH_BYTES = 256 * 1024
/**
 * Largest frame a resuming client sends behind its HELLO, before the WELCOME: servers accept frames up
 * to their maxHandshakeFrameLength (at least this) until the client has logged in.
 */
export const MAX_EARLY_FRAME_BYTES = 16 * 1024
/**
 * Bytes queued within one event-loop turn after which they are written at once instead of at the
 * end of the turn: a producer emitting thousands of messages in a loop hands the first ones to the
 * socket (and the peer starts reading) while it still builds the rest.
 */
const EARLY_FLUSH_BYTES = 64 * 1024
const MAX_VOLATILE_BYTES = 1024 * 1024
const ACK_ENVELOPE_BYTES = 8
/** Messages received without an ack before one is written at once, at the end of the chunk. */
const ACK_EVERY = 512
/**
 * A delayed ack (see `ackDelay`) only covers a few small messages: beyond these the ack goes out at
 * the end of the turn, so a server's per-peer buffer (peerBuffer) does not fill up with messages a
 * healthy client has long received.
 */
const DELAYED_ACK_MESSAGES = 16
const DELAYED_ACK_BYTES = 64 * 1024

// One reused decode record and one reused batch array for every session: frames are handled one at a time.
const envelope = newEnvelope()
let batch: OutboxEntry[] = []

// Sessions with something to write, flushed together once per event-loop turn.
let dirty: Session[] = []
let flushScheduled = false

function flushDirty(): void {
  flushScheduled = false
  const list = dirty
  dirty = []
  for (const session of list) session.flush()
}

export abstract class Session implements ConnectionOwner, Sweepable {
  /** Next outgoing sequence number. */
  nextSeq = 1
  /** Highest sequence number received in order (and delivered). */
  lastReceived = 0
  /** Last cumulative ack written to the peer. */
  ackSent = 0
  readonly outbox: Outbox
  /** The transport; `established` once the handshake is done on it. */
  conn: Connection | undefined
  established = false
  codec: FrameCodec
  payloadCodec: PayloadCodecName
  heartbeat: Heartbeat
  maxFrameLength: number
  /** Requests being handled here whose response is not yet queued. */
  handling = 0
  /** Their ids (only while some run): a request reusing one of them is a protocol error. */
  #running: Set<number> | undefined
  /** Whether MessagePack payloads are decoded (JSON and raw always are); see `accept`. */
  acceptsMsgpack = true
  #control: Buffer[] | undefined
  #volatile: VolatileMessage[] | undefined
  #volatileBytes = 0
  #queued = false
  #ackDelayed = false
  /** Bytes of reliable messages received since the last ack written. */
  #bytesSinceAck = 0
  /** Reliable bytes queued since the last flush (see EARLY_FLUSH_BYTES). */
  #queuedBytes = 0
  #pending: PendingRequests | undefined
  #lastPingAt = 0
  #sweeper: Sweeper | undefined

  constructor(
    codec: FrameCodec,
    payloadCodec: PayloadCodecName,
    heartbeat: Heartbeat,
    maxFrameLength: number,
    limits: OutboxLimits | undefined,
  ) {
    this.codec = codec
    this.payloadCodec = payloadCodec
    this.heartbeat = heartbeat
    this.maxFrameLength = maxFrameLength
    this.outbox = new Outbox(limits)
  }

  // ——— hooks for the client and the peer ———

  /** An event (reliable or volatile) arrived. */
  protected abstract onEvent(name: string, data: unknown): void
  protected abstract handlerFor(method: string): RequestHandler<unknown> | undefined
  /** The value passed to request handlers as their second argument. */
  protected abstract get handlerContext(): unknown
  /** HELLO, WELCOME, GOAWAY or BYE: the handshake and the end of a session. */
  protected abstract onControl(kind: Kind, payload: unknown, conn: Connection): void
  /** The outbox cannot take `size` more bytes: throw, or cut the peer. */
  protected abstract onOutboxFull(size: number, kind: Kind): void
  /**
   * Requests of the peer's that may run at once; one more is answered with WK_BACKPRESSURE without
   * running its handler (a server bounds what one client can make it do).
   */
  protected get maxHandling(): number {
    return Number.POSITIVE_INFINITY
  }
  /** Whether this side sends pings (the client does; the server answers them). */
  protected abstract get pings(): boolean
  abstract onClose(conn: Connection, error: Error | undefined): void
  /** Called at every flush, before writing (the server syncs its session store here). */
  protected beforeFlush(): void {}
  /**
   * How long an ack with nothing else to send may wait, in ms (0: written at the end of the turn).
   * Any frame written earlier carries it; ACK_EVERY unacknowledged messages are acked at once anyway.
   */
  protected get ackDelay(): number {
    return 0
  }

  // ——— sending ———

  /** Queues a reliable message; returns its outbox entry. */
  protected enqueue(kind: Kind, id: number, name: string, data: unknown, force = false): OutboxEntry {
    const format = formatOf(data, this.payloadCodec)
    return this.enqueueBody(kind, id, name, format, encodeBody(data, format), force)
  }

  /** Queues a reliable message whose body is already encoded (a broadcast encodes once for all peers). */
  enqueueBody(kind: Kind, id: number, name: string, format: Format, body: Body, force = false): OutboxEntry {
    let flags: number = format | Flag.SEQ
    if (kind === Kind.REQUEST || kind === Kind.RESPONSE || kind === Kind.ERROR) flags |= Flag.ID
    let nameBytes = 0
    if (name !== '') {
      flags |= Flag.NAME
      nameBytes = checkName(name)
    }
    const bodyBytes = bodyLength(body)
    const size = envelopeLength(flags, nameBytes, bodyBytes)
    if (size > this.maxFrameLength) {
      throw new InvalidArgumentError(
        `Message "${name}" of ${size} bytes exceeds maxFrameLength ${this.maxFrameLength}`,
      )
    }
    if (!force && this.outbox.isFull(size)) this.onOutboxFull(size, kind)
    const entry: OutboxEntry = {
      seq: this.nextSeq++,
      kind,
      flags,
      id,
      name,
      format,
      body,
      bodyBytes,
      size,
      settle: undefined,
    }
    this.outbox.push(entry)
    if ((this.#queuedBytes += size) >= EARLY_FLUSH_BYTES) this.flush()
    else this.schedule()
    return entry
  }

  /** Sends an event and resolves when the peer acknowledges it. */
  protected sendEvent(event: string, data: unknown): Promise<void> {
    let entry: OutboxEntry
    try {
      entry = this.enqueue(Kind.EVENT, 0, event, data)
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw error
      return Promise.reject(error)
    }
    entry.settle = Promise.withResolvers<void>()
    return entry.settle.promise
  }

  /** Sends a volatile event: written with the next flush if connected, else dropped. Returns whether queued. */
  protected sendVolatile(event: string, data: unknown): boolean {
    checkName(event)
    if (!this.established || this.#volatileBytes > MAX_VOLATILE_BYTES) return false
    const format = formatOf(data, this.payloadCodec)
    return this.queueVolatile(event, format, encodeBody(data, format))
  }

  /** Queues an encoded volatile event (a broadcast encodes once for all peers). */
  queueVolatile(event: string, format: Format, body: Body): boolean {
    if (!this.established || this.#volatileBytes > MAX_VOLATILE_BYTES) return false
    const bodyBytes = bodyLength(body)
    const flags = format | Flag.NAME
    const size = envelopeLength(flags, checkName(event), bodyBytes)
    if (size > this.maxFrameLength) {
      throw new InvalidArgumentError(
        `Message "${event}" of ${size} bytes exceeds maxFrameLength ${this.maxFrameLength}`,
      )
    }
    this.#volatile ??= []
    this.#volatile.push({ name: event, flags, body, bodyBytes, size })
    this.#volatileBytes += size
    this.schedule()
    return true
  }

  /** Sends a request; resolves with the response, rejects with the remote error, a timeout or an abort. */
  protected sendRequest(method: string, data: unknown, options: RequestOptions = {}): Promise<unknown> {
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(abortError(method, signal))
    const pending = (this.#pending ??= new PendingRequests())
    const id = pending.nextId()
    let entry: OutboxEntry
    try {
      entry = this.enqueue(Kind.REQUEST, id, method, data)
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw error
      return Promise.reject(error)
    }
    return pending.add(id, method, entry.seq, options.timeout ?? 30_000, signal)
  }

  /** Queues an already framed control frame (PING, PONG, WELCOME...) ahead of messages. */
  queueControl(frame: Buffer): void {
    this.#control ??= []
    this.#control.push(frame)
    this.schedule()
  }

  schedule(): void {
    if (this.#queued) return
    this.#queued = true
    dirty.push(this)
    if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flushDirty)
    }
  }

  /** Writes everything pending as one buffer: ack, control frames, volatile messages, then the outbox. */
  flush(): void {
    this.#queued = false
    this.#queuedBytes = 0
    this.beforeFlush()
    const conn = this.conn
    if (conn === undefined || !this.established || conn.writing || conn.closed) return
    const codec = this.codec
    const ackDue = this.lastReceived > this.ackSent
    let total = ackDue ? codec.encodedLength(ACK_ENVELOPE_BYTES) : 0
    const control = this.#control
    if (control !== undefined) for (const frame of control) total += frame.length
    const volatile = this.#volatile
    if (volatile !== undefined) for (const message of volatile) total += codec.encodedLength(message.size)
    let n = 0
    while (total < MAX_BATCH_BYTES) {
      const entry = this.outbox.next()
      if (entry === undefined) break
      batch[n++] = entry
      total += codec.encodedLength(entry.size)
    }
    if (total === 0) return
    const out = Buffer.allocUnsafe(total)
    let at = 0
    // Control frames first: a WELCOME must precede everything else on a new transport.
    if (control !== undefined) {
      for (const frame of control) at += frame.copy(out, at)
      this.#control = undefined
    }
    if (ackDue) {
      at = writeFrame(
        codec,
        out,
        at,
        ACK_ENVELOPE_BYTES,
        Kind.ACK,
        Flag.ACK | Format.EMPTY,
        0,
        this.lastReceived,
        0,
        '',
        undefined,
        0,
      )
      this.ackSent = this.lastReceived
      this.#bytesSinceAck = 0
    }
    if (volatile !== undefined) {
      for (const m of volatile) {
        at = writeFrame(codec, out, at, m.size, Kind.VOLATILE, m.flags, 0, 0, 0, m.name, m.body, m.bodyBytes)
      }
      this.#volatile = undefined
      this.#volatileBytes = 0
    }
    for (let i = 0; i < n; i++) {
      const e = batch[i]!
      at = writeFrame(codec, out, at, e.size, e.kind, e.flags, e.seq, 0, e.id, e.name, e.body, e.bodyBytes)
    }
    if (n > 0) batch.fill(undefined as unknown as OutboxEntry, 0, n)
    if (batch.length > 4096) batch = []
    conn.write(at === total ? out : out.subarray(0, at))
  }

  /**
   * `prefix` (a HELLO) followed by the oldest unacknowledged messages, up to one batch: a resuming client
   * sends them without waiting for the WELCOME (the server applies them only if the session resumes).
   * Returns the bytes and the last sequence number included (0 when none).
   */
  protected encodeEarly(prefix: Buffer): [Buffer, number] {
    const codec = this.codec
    let total = prefix.length
    let through = 0
    const entries: OutboxEntry[] = []
    for (const entry of this.outbox) {
      if (total >= MAX_BATCH_BYTES || codec.encodedLength(entry.size) > MAX_EARLY_FRAME_BYTES) break
      entries.push(entry)
      total += codec.encodedLength(entry.size)
      through = entry.seq
    }
    if (entries.length === 0) return [prefix, 0]
    const out = Buffer.allocUnsafe(total)
    let at = prefix.copy(out, 0)
    for (const e of entries) {
      at = writeFrame(codec, out, at, e.size, e.kind, e.flags, e.seq, 0, e.id, e.name, e.body, e.bodyBytes)
    }
    return [at === total ? out : out.subarray(0, at), through]
  }

  onWritable(_conn: Connection): void {
    if (this.outbox.hasUnsent || this.#control !== undefined || this.#volatile !== undefined) this.schedule()
    else if (this.lastReceived > this.ackSent) this.schedule()
  }

  // ——— receiving ———

  onFrame(frame: Buffer, conn: Connection): void {
    const env = decodeEnvelope(frame, envelope)
    if (!this.established || conn !== this.conn) {
      if (env.kind === Kind.HELLO || env.kind === Kind.WELCOME || env.kind === Kind.GOAWAY) {
        this.onControl(env.kind, decodePayload(frame, env.payloadStart, env.format), conn)
        return
      }
      throw new ProtocolError(
        ErrorCodes.PROTOCOL,
        `Bad envelope: kind ${env.kind} before the handshake completed`,
      )
    }
    if (env.flags & Flag.ACK) this.#onAck(env.ack)
    const kind = env.kind
    if (env.flags & Flag.SEQ) {
      if (kind !== Kind.EVENT && kind !== Kind.REQUEST && kind !== Kind.RESPONSE && kind !== Kind.ERROR) {
        throw new ProtocolError(
          ErrorCodes.PROTOCOL,
          `Bad envelope: kind ${kind} cannot carry a sequence number`,
        )
      }
      const seq = env.seq
      // A resend of something already delivered: drop it, the peer learns our position from the next ack.
      if (seq <= this.lastReceived) return
      if (seq !== this.lastReceived + 1) {
        throw new ProtocolError(
          ErrorCodes.PROTOCOL,
          `Bad envelope: sequence ${seq} after ${this.lastReceived}`,
        )
      }
      if (env.format === Format.MSGPACK && !this.acceptsMsgpack) throw refusedFormat(env.format)
      this.lastReceived = seq
      this.#bytesSinceAck += frame.length
      const data = decodePayload(frame, env.payloadStart, env.format)
      if (kind === Kind.EVENT) this.onEvent(requireName(env.name), data)
      else if (kind === Kind.REQUEST) this.#onRequest(env.id, requireName(env.name), data)
      else if (kind === Kind.RESPONSE) this.#pending?.settle(env.id, undefined, data)
      else this.#pending?.settle(env.id, remoteError(this.#pending.methodOf(env.id), data), undefined)
      return
    }
    switch (kind) {
      case Kind.VOLATILE:
        if (env.format === Format.MSGPACK && !this.acceptsMsgpack) throw refusedFormat(env.format)
        this.onEvent(requireName(env.name), decodePayload(frame, env.payloadStart, env.format))
        return
      case Kind.ACK:
        return
      case Kind.PING:
        this.queueControl(encodeFrame(this.codec, Kind.PONG, Format.EMPTY))
        return
      case Kind.PONG:
        return
      case Kind.GOAWAY:
      case Kind.BYE:
        this.onControl(kind, decodePayload(frame, env.payloadStart, env.format), conn)
        return
      default:
        throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: unexpected kind ${kind}`)
    }
  }

  /** The GOAWAY written before a connection closes on `error` (protocol errors, rate limit). */
  farewell(error: Error): Buffer | undefined {
    return goawayFor(this.codec, error)
  }

  onChunk(_conn: Connection): void {
    noteRead()
    const unacked = this.lastReceived - this.ackSent
    if (unacked === 0) return
    // A long stream is acknowledged as it is read, so the sender's window keeps moving; otherwise
    // the ack waits for the end of the event-loop turn and rides with whatever else is written.
    if (unacked >= ACK_EVERY) this.flush()
    else if (this.#queued) return
    else if (this.ackDelay > 0 && unacked < DELAYED_ACK_MESSAGES && this.#bytesSinceAck < DELAYED_ACK_BYTES) {
      if (this.#ackDelayed) return
      this.#ackDelayed = true
      delayAck(this, this.ackDelay)
    } else this.schedule()
  }

  /** The shared delayed-ack timer fired: write the ack unless a flush already carried it. */
  ackTimerFired(): void {
    this.#ackDelayed = false
    if (this.lastReceived > this.ackSent) this.schedule()
  }

  #onAck(ack: number): void {
    if (ack >= this.nextSeq) {
      throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: ack ${ack} of a message never sent`)
    }
    this.outbox.ack(ack)
  }

  #onRequest(id: number, method: string, data: unknown): void {
    if (this.#running?.has(id)) {
      throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: request id ${id} is still being handled`)
    }
    if (this.handling >= this.maxHandling) {
      this.respondError(
        id,
        ErrorCodes.BACKPRESSURE,
        `"${method}" refused: ${this.handling} requests of this client are being handled already`,
        false,
      )
      return
    }
    const handler = this.handlerFor(method)
    if (handler === undefined) {
      this.respondError(id, ErrorCodes.NO_HANDLER, `no handler for "${method}"`, false)
      return
    }
    // Timed only while a metrics registry (or anyone) subscribes: one property read otherwise.
    const started = handlerChannel.hasSubscribers ? performance.now() : -1
    let result: unknown
    try {
      result = handler(data, this.handlerContext)
    } catch (error) {
      if (started >= 0) this.#handled(method, started, false)
      this.#respondThrown(id, error)
      return
    }
    if (result instanceof Promise) {
      this.handling++
      const running = (this.#running ??= new Set())
      running.add(id)
      result.then(
        (value) => {
          this.#finished(id)
          if (started >= 0) this.#handled(method, started, true)
          this.respond(id, value)
        },
        (error) => {
          this.#finished(id)
          if (started >= 0) this.#handled(method, started, false)
          this.#respondThrown(id, error)
        },
      )
    } else {
      if (started >= 0) this.#handled(method, started, true)
      this.respond(id, result)
    }
  }

  #handled(method: string, started: number, ok: boolean): void {
    handlerChannel.publish({ session: this, method, ms: performance.now() - started, ok })
  }

  #finished(id: number): void {
    this.handling--
    const running = this.#running
    if (running === undefined) return
    running.delete(id)
    // An idle session keeps no set.
    if (running.size === 0) this.#running = undefined
  }

  protected respond(id: number, value: unknown): void {
    if (this.isOver) return
    try {
      this.enqueue(Kind.RESPONSE, id, '', value, this.forceResponses)
    } catch (error) {
      if (error instanceof InvalidArgumentError)
        this.respondError(id, ErrorCodes.REMOTE_ERROR, error.message, true)
    }
  }

  #respondThrown(id: number, error: unknown): void {
    const e = error as { message?: unknown; code?: unknown }
    const message = typeof e?.message === 'string' ? e.message : String(error)
    this.respondError(id, typeof e?.code === 'string' ? e.code : ErrorCodes.REMOTE_ERROR, message, true)
  }

  /** Sends an error response. `remote`: thrown by application code (else a framework refusal). */
  protected respondError(id: number, code: string, message: string, remote: boolean): void {
    if (this.isOver) return
    try {
      this.enqueue(Kind.ERROR, id, '', { code, message, remote }, this.forceResponses)
    } catch {
      // Outbox overflow on the server already cut the peer; nothing more to do.
    }
  }

  /** Responses may exceed the outbox limit (they are bounded by the requests received). */
  protected get forceResponses(): boolean {
    return true
  }

  /** The session has ended for good: nothing more is queued. */
  protected get isOver(): boolean {
    return false
  }

  // ——— connection lifecycle ———

  /** Attaches a transport whose handshake is complete; replays the unacknowledged outbox onto it. */
  protected attach(conn: Connection, peerLastReceived: number): void {
    this.conn = conn
    this.established = true
    this.ackSent = this.lastReceived
    this.#bytesSinceAck = 0
    this.#lastPingAt = 0
    if (peerLastReceived >= this.nextSeq) {
      throw new ProtocolError(
        ErrorCodes.PROTOCOL,
        `Bad handshake: peer acknowledges ${peerLastReceived}, never sent`,
      )
    }
    this.outbox.ack(peerLastReceived)
    const resent = Math.min(this.outbox.count, Math.max(0, this.outbox.sentUpTo - peerLastReceived))
    this.outbox.rewind()
    if (resent > 0) publishResend(this, resent)
    this.#sweeper = sweeperFor(Math.min(this.heartbeat.interval, this.heartbeat.timeout))
    this.#sweeper.add(this)
    this.schedule()
  }

  /** Forgets the transport (it closed); the session lives on. Drops volatile messages. */
  protected detachConnection(): void {
    this.conn = undefined
    this.established = false
    this.#control = undefined
    this.#volatile = undefined
    this.#volatileBytes = 0
    this.#sweeper?.delete(this)
    this.#sweeper = undefined
  }

  sweep(now: number): void {
    const conn = this.conn
    if (conn !== undefined && this.established && !conn.closed) {
      const { interval, timeout } = this.heartbeat
      const idle = now - conn.lastInbound
      if (idle >= interval + timeout) {
        conn.close(
          new TimeoutError(
            ErrorCodes.HEARTBEAT_TIMEOUT,
            `Heartbeat timeout: nothing received for ${idle} ms`,
          ),
        )
      } else if (
        this.pings &&
        (idle >= interval || now - conn.lastOutbound >= interval) &&
        now - this.#lastPingAt >= interval
      ) {
        this.#lastPingAt = now
        this.queueControl(encodeFrame(this.codec, Kind.PING, Format.EMPTY))
      }
    }
  }

  /** Pending requests whose request message was written to a transport (seq ≤ sentUpTo) or acknowledged. */
  protected failSentRequests(error: (method: string) => Error, all: boolean): void {
    this.#pending?.fail(error, this.outbox.sentUpTo, all)
  }

  /** Follows carried-over request messages renumbered into a new session. */
  protected renumberPending(map: Map<number, number>): void {
    this.#pending?.renumber(map)
  }

  get pendingRequests(): number {
    return this.#pending?.size ?? 0
  }
}
