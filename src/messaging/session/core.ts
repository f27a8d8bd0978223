// The delivery core: sequence numbers, cumulative acks, the bounded outbox, resend after a resume,
// dedupe of resent frames, request/response pairing and the ack policy. It owns no socket and no timer:
// envelopes go in as bytes (`receive`), batches of framed envelopes come out (`flush`), events and
// requests reach the owner (a MessageClient, a server's Peer, the browser client) through `SessionHost`.
// Browser-safe: Uint8Array only; how payloads are encoded is the owner's `Payloads`.
//
//   send ─► outbox (seq n, kept until acked) ─► flush(): [len][envelope]… ─► owner writes the batch
//   receive(envelope) ─► ack? drop acked entries ─► seq? deliver once, in order ─► owner's events
//   attach(peer's lastReceived) ─► drop what it has, rewind: everything else is written again

import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../../errors.ts'
import { publishResend } from '../channels.ts'
import { checkName, FRAME_PREFIX_BYTES, headerLength } from '../wire/envelope-frame.ts'
import { Flag, type Format, Kind } from '../wire/kinds.ts'
import type { Body, Payloads } from '../wire/payloads.ts'
import {
  ACK_FRAME_BYTES,
  MAX_BATCH_BYTES,
  PING_FRAME,
  type VolatileMessage,
  writeAck,
  writeEntry,
  writeVolatile,
} from './batch.ts'
import {
  type RequestOptions,
  type SessionCoreOptions,
  type SessionHost,
  type SessionProfile,
  sessionProfile,
} from './host.ts'
import { Outbox, type OutboxEntry, rejectEntry } from './outbox.ts'
import { abortError, PendingRequests } from './pending-requests.ts'
import { decideAck, receiveEnvelope } from './receive.ts'
import { type EarlyWrite, loseSession, restoreSession, type StoredSession, writeEarly } from './resume.ts'

export { MAX_EARLY_FRAME_BYTES } from './batch.ts'
export {
  type RequestOptions,
  type SessionCoreOptions,
  type SessionHost,
  type SessionProfile,
  sessionProfile,
} from './host.ts'
export type { StoredSession } from './resume.ts'

/**
 * Bytes queued within one event-loop turn after which they are written at once instead of at the
 * end of the turn: a producer emitting thousands of messages in a loop hands the first ones to the
 * socket (and the peer starts reading) while it still builds the rest.
 */
const EARLY_FLUSH_BYTES = 64 * 1024
const MAX_VOLATILE_BYTES = 1024 * 1024

// One reused batch array for every core: flushes run one at a time.
let batch: OutboxEntry[] = []

export class SessionCore {
  /** Next outgoing sequence number. */
  nextSeq = 1
  /** Highest sequence number received in order (and delivered). */
  lastReceived = 0
  /** Last cumulative ack written to the peer. */
  ackSent = 0
  readonly outbox: Outbox
  /** A transport is attached and its handshake is done: messages flow. */
  established = false
  /** The session has ended for good: nothing more is queued (responses to late handlers are dropped). */
  over = false
  maxFrameLength: number
  heartbeat: { interval: number; timeout: number }
  /** Settings shared with the other sessions of its kind (payload codec, clock, limits, policy). */
  readonly profile: SessionProfile
  readonly context: unknown
  /** Requests being handled here whose response is not yet queued. */
  handling = 0
  /** Their ids (only while some run): a request reusing one of them is a protocol error. */
  running: Set<number> | undefined
  readonly host: SessionHost
  #control: Uint8Array[] | undefined
  #volatile: VolatileMessage[] | undefined
  #volatileBytes = 0
  /** A flush is asked for (once per turn). */
  queued = false
  /** The owner's delayed-ack timer runs (see session/receive.ts). */
  ackDelayed = false
  /** Bytes of reliable messages received since the last ack written. */
  bytesSinceAck = 0
  /** Reliable bytes queued since the last flush (see EARLY_FLUSH_BYTES). */
  #queuedBytes = 0
  /** Requests sent and waiting for their response (made on the first one). */
  pending: PendingRequests | undefined
  #lastPingAt = 0
  /** Messages written behind a resuming HELLO, before the WELCOME (see `writeEarly`). */
  early: EarlyWrite | undefined

  /** `options`: a shared `SessionProfile` with this session's context and frame limit, or all options at once. */
  constructor(
    host: SessionHost,
    options: SessionCoreOptions | { profile: SessionProfile; context: unknown; maxFrameLength: number },
  ) {
    this.host = host
    const profile = 'profile' in options ? options.profile : sessionProfile(options)
    this.profile = profile
    this.context = options.context
    this.maxFrameLength = options.maxFrameLength
    this.heartbeat = profile.heartbeat
    this.outbox = new Outbox(profile.limits)
  }

  get payloads(): Payloads {
    return this.profile.payloads
  }

  // ——— sending ———

  /** Queues a reliable message; returns its outbox entry. `force`: past the outbox bounds (responses). */
  enqueue(kind: Kind, id: number, name: string, data: unknown, force = false): OutboxEntry {
    const payloads = this.profile.payloads
    const format = payloads.formatOf(data)
    return this.enqueueBody(kind, id, name, format, payloads.encode(data, format), force)
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
    const bodyBytes = this.profile.payloads.length(body)
    const size = headerLength(flags, nameBytes) + bodyBytes
    if (size > this.maxFrameLength) {
      throw new InvalidArgumentError(
        `Message "${name}" of ${size} bytes exceeds maxFrameLength ${this.maxFrameLength}`,
      )
    }
    if (!force && this.outbox.isFull(size)) this.host.onOutboxFull(size, kind)
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
    if ((this.#queuedBytes += size) >= EARLY_FLUSH_BYTES) this.host.flushNow()
    else this.schedule()
    return entry
  }

  /** Sends an event and resolves when the peer acknowledges it. */
  sendEvent(event: string, data: unknown): Promise<void> {
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

  /** Sends a request; resolves with the response, rejects with the remote error, a timeout or an abort. */
  sendRequest(method: string, data: unknown, options: RequestOptions = {}): Promise<unknown> {
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(abortError(method, signal))
    const pending = (this.pending ??= new PendingRequests(this.profile.clock))
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

  /** Sends a volatile event: written with the next flush if connected, else dropped. Returns whether queued. */
  sendVolatile(event: string, data: unknown): boolean {
    checkName(event)
    if (!this.established || this.#volatileBytes > MAX_VOLATILE_BYTES) return false
    const format = this.profile.payloads.formatOf(data)
    return this.queueVolatile(event, format, this.profile.payloads.encode(data, format))
  }

  /** Queues an encoded volatile event (a broadcast encodes once for all peers). */
  queueVolatile(event: string, format: Format, body: Body): boolean {
    if (!this.established || this.#volatileBytes > MAX_VOLATILE_BYTES) return false
    const bodyBytes = this.profile.payloads.length(body)
    const flags = format | Flag.NAME
    const size = headerLength(flags, checkName(event)) + bodyBytes
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

  /** Queues an already framed control frame (WELCOME, PING...): written ahead of messages. */
  queueControl(frame: Uint8Array): void {
    this.#control ??= []
    this.#control.push(frame)
    this.schedule()
  }

  /** Asks the owner for a flush at the end of this turn (once per turn). */
  schedule(): void {
    if (this.queued) return
    this.queued = true
    this.host.schedule()
  }

  /**
   * Everything pending as one batch of framed envelopes (4-byte big-endian length each): control
   * frames, the ack, volatile messages, then up to 256 KiB of the outbox. `writable`: the owner's
   * transport can take bytes now; when false nothing is taken (the owner calls again once it can).
   */
  flush(writable: boolean): Uint8Array | undefined {
    this.queued = false
    this.#queuedBytes = 0
    if (!writable || !this.established) return undefined
    const ackDue = this.lastReceived > this.ackSent
    let total = ackDue ? ACK_FRAME_BYTES : 0
    const control = this.#control
    if (control !== undefined) for (const frame of control) total += frame.length
    const volatile = this.#volatile
    if (volatile !== undefined) for (const m of volatile) total += FRAME_PREFIX_BYTES + m.size
    let n = 0
    while (total < MAX_BATCH_BYTES) {
      const entry = this.outbox.next()
      if (entry === undefined) break
      batch[n++] = entry
      total += FRAME_PREFIX_BYTES + entry.size
    }
    if (total === 0) return undefined
    const payloads = this.profile.payloads
    const out = payloads.alloc(total)
    let at = 0
    // Control frames first: a WELCOME must precede everything else on a new transport.
    if (control !== undefined) {
      for (const frame of control) {
        out.set(frame, at)
        at += frame.length
      }
      this.#control = undefined
    }
    if (ackDue) {
      at = writeAck(out, at, this.lastReceived)
      this.ackSent = this.lastReceived
      this.bytesSinceAck = 0
    }
    if (volatile !== undefined) {
      for (const m of volatile) at = writeVolatile(payloads, out, at, m)
      this.#volatile = undefined
      this.#volatileBytes = 0
    }
    for (let i = 0; i < n; i++) at = writeEntry(payloads, out, at, batch[i]!)
    if (n > 0) batch.fill(undefined as unknown as OutboxEntry, 0, n)
    if (batch.length > 4096) batch = []
    return at === total ? out : out.subarray(0, at)
  }

  /** Whether a flush would write something (after the transport became writable again). */
  get hasWork(): boolean {
    return (
      this.outbox.hasUnsent ||
      this.#control !== undefined ||
      this.#volatile !== undefined ||
      this.lastReceived > this.ackSent
    )
  }

  /**
   * `hello` (a framed HELLO) followed by the oldest unacknowledged messages, up to one batch: a resuming
   * client sends them without waiting for the WELCOME (see session/resume.ts).
   */
  writeEarly(hello: Uint8Array): Uint8Array {
    return writeEarly(this, hello)
  }

  /** The transport that carried an early write is gone: its WELCOME will never come. */
  forgetEarly(): void {
    this.early = undefined
  }

  // ——— receiving ———

  /**
   * One envelope from the peer (a view valid for this call only). Throws ProtocolError on anything the
   * protocol forbids; the owner then closes the transport with that error. Before the handshake (or
   * with `handshakeOnly`, a transport already replaced) only HELLO, WELCOME and GOAWAY are accepted.
   */
  receive(frame: Uint8Array, handshakeOnly = false): void {
    receiveEnvelope(this, frame, handshakeOnly)
  }

  /**
   * All envelopes that arrived together (one TCP chunk, one WebSocket message) were received: decide
   * when the ack goes out. A long stream is acknowledged as it is read, so the sender's window keeps
   * moving; otherwise the ack waits for the end of the turn and rides with whatever else is written,
   * or (ackDelay) a little longer when it is alone.
   */
  received(): void {
    decideAck(this)
  }

  /** The delayed-ack timer fired: write the ack unless a flush already carried it. */
  ackTimerFired(): void {
    this.ackDelayed = false
    if (this.lastReceived > this.ackSent) this.schedule()
  }

  // ——— transports and the session's life ———

  /**
   * A transport's handshake is done and the peer has everything up to `peerLastReceived`: what it has
   * is dropped, the rest is written again (resent) from the next flush on.
   */
  attach(peerLastReceived: number): void {
    const early = this.early
    this.early = undefined
    this.established = true
    this.ackSent = this.lastReceived
    this.bytesSinceAck = 0
    this.#lastPingAt = 0
    if (peerLastReceived >= this.nextSeq) {
      throw new ProtocolError(
        ErrorCodes.PROTOCOL,
        `Bad handshake: peer acknowledges ${peerLastReceived}, never sent`,
      )
    }
    const outbox = this.outbox
    outbox.ack(peerLastReceived)
    const resent = Math.min(outbox.count, Math.max(0, outbox.sentUpTo - peerLastReceived))
    outbox.rewind()
    // What rode behind the HELLO is on this transport already.
    if (early !== undefined) outbox.skipThrough(early.through)
    if (resent > 0) publishResend(this.context as object, resent)
    this.schedule()
  }

  /** The transport is gone; the session lives on. Control frames and volatile messages are dropped. */
  detach(): void {
    this.established = false
    this.#control = undefined
    this.#volatile = undefined
    this.#volatileBytes = 0
  }

  /**
   * The peer did not know this session (restart, expiry): messages it may have seen are given up
   * (their sends reject with `error(lost)`), the rest renumbered from 1 (see session/resume.ts).
   */
  lose(error: (lost: OutboxEntry[]) => Error): Error {
    return loseSession(this, error)
  }

  /** Takes up a session stored elsewhere (another node, a page before its reload). */
  restore(state: StoredSession): void {
    restoreSession(this, state)
  }

  /** Rejects the pending requests whose request was written (seq ≤ sentUpTo), or all of them. */
  failSentRequests(error: (method: string) => Error, all: boolean): void {
    this.pending?.fail(error, this.outbox.sentUpTo, all)
  }

  /** Ends the session: every unacknowledged send and pending request rejects with `error`. */
  end(error: (unacknowledged: OutboxEntry[]) => Error): Error {
    this.over = true
    this.early = undefined
    const entries = this.outbox.takeAll()
    const reason = error(entries)
    for (const entry of entries) rejectEntry(entry, reason)
    this.failSentRequests(() => reason, true)
    return reason
  }

  /** Queues the response to request `id` (dropped once the session is over). */
  respond(id: number, value: unknown): void {
    if (this.over) return
    try {
      this.enqueue(Kind.RESPONSE, id, '', value, this.profile.forceResponses)
    } catch (error) {
      if (error instanceof InvalidArgumentError)
        this.respondError(id, ErrorCodes.REMOTE_ERROR, error.message, true)
    }
  }

  /** Queues an error response. `remote`: thrown by application code (else a framework refusal). */
  respondError(id: number, code: string, message: string, remote: boolean): void {
    if (this.over) return
    try {
      this.enqueue(Kind.ERROR, id, '', { code, message, remote }, this.profile.forceResponses)
    } catch {
      // Outbox overflow on the server already cut the peer; nothing more to do.
    }
  }

  get pendingRequests(): number {
    return this.pending?.size ?? 0
  }

  // ——— heartbeat ———

  /**
   * Judges the transport's life by the clock: returns how long it has been silent when that is past
   * `interval + timeout` (the owner closes it with WK_HEARTBEAT_TIMEOUT), else -1, queueing a PING when
   * this side pings and the line has been quiet for `interval`.
   */
  checkLife(now: number, lastInbound: number, lastOutbound: number): number {
    const { interval, timeout } = this.heartbeat
    const idle = now - lastInbound
    if (idle >= interval + timeout) return idle
    if (
      this.profile.pings &&
      this.established &&
      (idle >= interval || now - lastOutbound >= interval) &&
      now - this.#lastPingAt >= interval
    ) {
      this.ping(now)
    }
    return -1
  }

  /** Queues a PING now (a check of the connection after the page woke up, say). */
  ping(now: number): void {
    this.#lastPingAt = now
    this.queueControl(PING_FRAME)
  }
}
