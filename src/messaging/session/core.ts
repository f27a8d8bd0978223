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
import {
  checkName,
  decodeEnvelope,
  FRAME_PREFIX_BYTES,
  headerLength,
  newEnvelope,
  requireName,
  writeFramePrefix,
  writeHeader,
} from '../wire/envelope-frame.ts'
import { Flag, Format, Kind } from '../wire/kinds.ts'
import {
  type RequestOptions,
  type SessionCoreOptions,
  type SessionHost,
  type SessionProfile,
  sessionProfile,
} from './host.ts'
import { runRequest } from './incoming-requests.ts'
import { Outbox, type OutboxEntry, rejectEntry, type StoredEntry } from './outbox.ts'
import { type Body, type Payloads, refusedFormat } from './payloads.ts'
import { abortError, PendingRequests, remoteError } from './pending-requests.ts'

export {
  type RequestOptions,
  type SessionCoreOptions,
  type SessionHost,
  type SessionProfile,
  sessionProfile,
} from './host.ts'

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

const PING_FRAME = Uint8Array.of(0, 0, 0, 2, Kind.PING, Format.EMPTY)
const PONG_FRAME = Uint8Array.of(0, 0, 0, 2, Kind.PONG, Format.EMPTY)

// One reused decode record and one reused batch array for every core: frames are handled one at a time.
const envelope = newEnvelope()
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
  #queued = false
  #ackDelayed = false
  /** Bytes of reliable messages received since the last ack written. */
  #bytesSinceAck = 0
  /** Reliable bytes queued since the last flush (see EARLY_FLUSH_BYTES). */
  #queuedBytes = 0
  #pending: PendingRequests | undefined
  #lastPingAt = 0
  /** Messages written behind a resuming HELLO, before the WELCOME (see `writeEarly`). */
  #early: { through: number; sentBefore: number } | undefined

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
    const pending = (this.#pending ??= new PendingRequests(this.profile.clock))
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
    if (this.#queued) return
    this.#queued = true
    this.host.schedule()
  }

  /**
   * Everything pending as one batch of framed envelopes (4-byte big-endian length each): control
   * frames, the ack, volatile messages, then up to 256 KiB of the outbox. `writable`: the owner's
   * transport can take bytes now; when false nothing is taken (the owner calls again once it can).
   */
  flush(writable: boolean): Uint8Array | undefined {
    this.#queued = false
    this.#queuedBytes = 0
    if (!writable || !this.established) return undefined
    const ackDue = this.lastReceived > this.ackSent
    let total = ackDue ? FRAME_PREFIX_BYTES + ACK_ENVELOPE_BYTES : 0
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
      writeFramePrefix(out, at, ACK_ENVELOPE_BYTES)
      at = writeHeader(out, at + 4, Kind.ACK, Flag.ACK | Format.EMPTY, 0, this.lastReceived, 0, '')
      this.ackSent = this.lastReceived
      this.#bytesSinceAck = 0
    }
    if (volatile !== undefined) {
      for (const m of volatile) {
        writeFramePrefix(out, at, m.size)
        const p = writeHeader(out, at + 4, Kind.VOLATILE, m.flags, 0, 0, 0, m.name)
        at = payloads.write(out, p, m.body, m.bodyBytes)
      }
      this.#volatile = undefined
      this.#volatileBytes = 0
    }
    for (let i = 0; i < n; i++) {
      const e = batch[i]!
      writeFramePrefix(out, at, e.size)
      at = payloads.write(
        out,
        writeHeader(out, at + 4, e.kind, e.flags, e.seq, 0, e.id, e.name),
        e.body,
        e.bodyBytes,
      )
    }
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
   * client sends them without waiting for the WELCOME. They count as sent (the server may apply them),
   * unless the session turns out lost: then the server dropped them unread (see `attach`, `lose`).
   */
  writeEarly(hello: Uint8Array): Uint8Array {
    let total = hello.length
    let through = 0
    const entries: OutboxEntry[] = []
    for (const entry of this.outbox) {
      const framed = FRAME_PREFIX_BYTES + entry.size
      if (total >= MAX_BATCH_BYTES || framed > MAX_EARLY_FRAME_BYTES) break
      entries.push(entry)
      total += framed
      through = entry.seq
    }
    this.#early = { through, sentBefore: this.outbox.sentUpTo }
    if (through > this.outbox.sentUpTo) this.outbox.sentUpTo = through
    if (entries.length === 0) return hello
    const out = this.profile.payloads.alloc(total)
    out.set(hello, 0)
    let at = hello.length
    for (const e of entries) {
      writeFramePrefix(out, at, e.size)
      at = this.profile.payloads.write(
        out,
        writeHeader(out, at + 4, e.kind, e.flags, e.seq, 0, e.id, e.name),
        e.body,
        e.bodyBytes,
      )
    }
    return at === total ? out : out.subarray(0, at)
  }

  /** The transport that carried an early write is gone: its WELCOME will never come. */
  forgetEarly(): void {
    this.#early = undefined
  }

  // ——— receiving ———

  /**
   * One envelope from the peer (a view valid for this call only). Throws ProtocolError on anything the
   * protocol forbids; the owner then closes the transport with that error. Before the handshake (or
   * with `handshakeOnly`, a transport already replaced) only HELLO, WELCOME and GOAWAY are accepted.
   */
  receive(frame: Uint8Array, handshakeOnly = false): void {
    const env = decodeEnvelope(frame, envelope)
    const kind = env.kind
    if (!this.established || handshakeOnly) {
      if (kind === Kind.HELLO || kind === Kind.WELCOME || kind === Kind.GOAWAY) {
        this.host.onControl(kind, this.profile.payloads.decode(frame, env.payloadStart, env.format))
        return
      }
      throw new ProtocolError(
        ErrorCodes.PROTOCOL,
        `Bad envelope: kind ${kind} before the handshake completed`,
      )
    }
    if (env.flags & Flag.ACK) this.#onAck(env.ack)
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
      if (env.format === Format.MSGPACK && !this.profile.acceptsMsgpack) throw refusedFormat(env.format)
      this.lastReceived = seq
      this.#bytesSinceAck += frame.length
      if (
        kind === Kind.EVENT &&
        env.format === Format.RAW &&
        this.host.onRawEvent?.(env.name, frame, env.payloadStart)
      )
        return
      const data = this.profile.payloads.decode(frame, env.payloadStart, env.format)
      if (kind === Kind.EVENT) this.host.onEvent(requireName(env.name), data)
      else if (kind === Kind.REQUEST) runRequest(this, env.id, requireName(env.name), data)
      else if (kind === Kind.RESPONSE) this.#pending?.settle(env.id, undefined, data)
      else this.#pending?.settle(env.id, remoteError(this.#pending.methodOf(env.id), data), undefined)
      return
    }
    switch (kind) {
      case Kind.VOLATILE:
        if (env.format === Format.MSGPACK && !this.profile.acceptsMsgpack) throw refusedFormat(env.format)
        this.host.onEvent(
          requireName(env.name),
          this.profile.payloads.decode(frame, env.payloadStart, env.format),
        )
        return
      case Kind.ACK:
      case Kind.PONG:
        return
      case Kind.PING:
        this.queueControl(PONG_FRAME)
        return
      case Kind.GOAWAY:
      case Kind.BYE:
        this.host.onControl(kind, this.profile.payloads.decode(frame, env.payloadStart, env.format))
        return
      default:
        throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: unexpected kind ${kind}`)
    }
  }

  /**
   * All envelopes that arrived together (one TCP chunk, one WebSocket message) were received: decide
   * when the ack goes out. A long stream is acknowledged as it is read, so the sender's window keeps
   * moving; otherwise the ack waits for the end of the turn and rides with whatever else is written,
   * or (ackDelay) a little longer when it is alone.
   */
  received(): void {
    const unacked = this.lastReceived - this.ackSent
    if (unacked === 0) return
    if (unacked >= ACK_EVERY) this.host.flushNow()
    else if (this.#queued) return
    else if (
      this.profile.ackDelay > 0 &&
      unacked < DELAYED_ACK_MESSAGES &&
      this.#bytesSinceAck < DELAYED_ACK_BYTES
    ) {
      if (this.#ackDelayed) return
      this.#ackDelayed = true
      this.host.delayAck(this.profile.ackDelay)
    } else this.schedule()
  }

  /** The delayed-ack timer fired: write the ack unless a flush already carried it. */
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

  // ——— transports and the session's life ———

  /**
   * A transport's handshake is done and the peer has everything up to `peerLastReceived`: what it has
   * is dropped, the rest is written again (resent) from the next flush on.
   */
  attach(peerLastReceived: number): void {
    const early = this.#early
    this.#early = undefined
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
   * The peer did not know this session (restart, expiry). Messages it may have seen are given up:
   * their sends reject with `error(lost)`; messages never written to any transport are renumbered
   * from 1 into the new session, and requests waiting on them follow. Returns the lost messages.
   */
  lose(error: (lost: OutboxEntry[]) => Error): Error {
    const outbox = this.outbox
    // The server dropped what followed our HELLO unread: only earlier transports may have delivered it.
    if (this.#early !== undefined) outbox.sentUpTo = this.#early.sentBefore
    this.#early = undefined
    const sentUpTo = outbox.sentUpTo
    const lost: OutboxEntry[] = []
    const kept: OutboxEntry[] = []
    for (const entry of outbox.takeAll()) (entry.seq <= sentUpTo ? lost : kept).push(entry)
    const reason = error(lost)
    for (const entry of lost) rejectEntry(entry, reason)
    this.failSentRequests(() => reason, false)
    const renumbered = new Map<number, number>()
    this.nextSeq = 1
    for (const entry of kept) {
      renumbered.set(entry.seq, this.nextSeq)
      entry.seq = this.nextSeq++
      outbox.push(entry)
    }
    this.#pending?.renumber(renumbered)
    outbox.sentUpTo = 0
    this.lastReceived = 0
    this.ackSent = 0
    return reason
  }

  /** Takes up a session stored elsewhere (another node, a page before its reload). */
  restore(state: {
    nextSeq: number
    lastReceived: number
    sentUpTo: number
    entries: readonly StoredEntry[]
  }): void {
    this.nextSeq = state.nextSeq
    this.lastReceived = state.lastReceived
    this.ackSent = state.lastReceived
    let lastRequestId = 0
    for (const stored of state.entries) {
      this.outbox.push({ ...stored, settle: undefined })
      if (stored.kind === Kind.REQUEST && stored.id > lastRequestId) lastRequestId = stored.id
    }
    this.outbox.sentUpTo = state.sentUpTo
    // A new request must not take the id of a restored one: its response would be taken for ours.
    if (lastRequestId > 0) (this.#pending ??= new PendingRequests(this.profile.clock)).reserve(lastRequestId)
  }

  /** Rejects the pending requests whose request was written (seq ≤ sentUpTo), or all of them. */
  failSentRequests(error: (method: string) => Error, all: boolean): void {
    this.#pending?.fail(error, this.outbox.sentUpTo, all)
  }

  /** Ends the session: every unacknowledged send and pending request rejects with `error`. */
  end(error: (unacknowledged: OutboxEntry[]) => Error): Error {
    this.over = true
    this.#early = undefined
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
    return this.#pending?.size ?? 0
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
