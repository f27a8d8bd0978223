// A session core (session/core.ts) on Node transports: the glue MessageClient and the server's Peer
// share. It feeds the core the frames a Connection reads, writes the batches the core gives back (once
// per event-loop turn for all sessions, or at once for a long burst), and lends it Node's timers: the
// shared heartbeat sweepers, the delayed-ack timer and the request-deadline sweeper.

import { ErrorCodes, TimeoutError } from '../errors.ts'
import type { FrameCodec } from '../framing/codec.ts'
import type { Connection, ConnectionOwner } from './connection.ts'
import { delayAck, noteRead } from './delayed-acks.ts'
import type { Kind } from './envelope.ts'
import { goawayFor } from './handshake.ts'
import { type Heartbeat, nodeClock, type Sweepable, type Sweeper, sweeperFor } from './heartbeat.ts'
import { nodePayloads, type PayloadCodecName } from './payload-codec.ts'
import { SessionCore, type SessionCoreOptions, type SessionHost } from './session/core.ts'
import type { RequestHandler } from './session/incoming-requests.ts'
import type { Outbox, OutboxLimits } from './session/outbox.ts'

export { MAX_EARLY_FRAME_BYTES, type RequestOptions } from './session/core.ts'
export type { RequestHandler } from './session/incoming-requests.ts'

// Sessions with something to write, flushed together once per event-loop turn.
let dirty: Session[] = []
let flushScheduled = false

function flushDirty(): void {
  flushScheduled = false
  const list = dirty
  dirty = []
  for (const session of list) session.flush()
}

export type SessionSettings = {
  codec: FrameCodec
  payloadCodec: PayloadCodecName
  heartbeat: Heartbeat
  maxFrameLength: number
  limits: OutboxLimits | undefined
} & Pick<SessionCoreOptions, 'pings' | 'ackDelay' | 'acceptsMsgpack' | 'maxHandling' | 'forceResponses'>

export abstract class Session implements ConnectionOwner, Sweepable, SessionHost {
  /** The delivery state: sequence numbers, outbox, acks, requests. */
  readonly core: SessionCore
  /** The transport; the core is `established` once the handshake is done on it. */
  conn: Connection | undefined
  readonly codec: FrameCodec
  #sweeper: Sweeper | undefined
  /** The connection whose frame is being handled (for onControl). */
  #from: Connection | undefined

  constructor(settings: SessionSettings) {
    this.codec = settings.codec
    this.core = new SessionCore(this, {
      payloads: nodePayloads(settings.payloadCodec),
      clock: nodeClock,
      maxFrameLength: settings.maxFrameLength,
      limits: settings.limits,
      context: this,
      pings: settings.pings,
      ackDelay: settings.ackDelay,
      acceptsMsgpack: settings.acceptsMsgpack,
      maxHandling: settings.maxHandling,
      forceResponses: settings.forceResponses,
    })
    this.core.heartbeat = settings.heartbeat
  }

  // ——— hooks for the client and the peer ———

  abstract onEvent(name: string, data: unknown): void
  abstract handlerFor(method: string): RequestHandler<unknown> | undefined
  /** HELLO, WELCOME, GOAWAY or BYE arrived on `conn`. */
  protected abstract control(kind: Kind, payload: unknown, conn: Connection): void
  abstract onOutboxFull(size: number, kind: Kind): void
  abstract onClose(conn: Connection, error: Error | undefined): void
  /** Called at every flush, before writing (the server syncs its session store here). */
  protected beforeFlush(): void {}

  // ——— what others read ———

  get established(): boolean {
    return this.core.established
  }
  get nextSeq(): number {
    return this.core.nextSeq
  }
  get lastReceived(): number {
    return this.core.lastReceived
  }
  get outbox(): Outbox {
    return this.core.outbox
  }
  /** Requests of the peer's being handled here. */
  get handling(): number {
    return this.core.handling
  }
  get pendingRequests(): number {
    return this.core.pendingRequests
  }

  // ——— SessionHost ———

  onControl(kind: Kind, payload: unknown): void {
    this.control(kind, payload, this.#from!)
  }

  schedule(): void {
    dirty.push(this)
    if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flushDirty)
    }
  }

  flushNow(): void {
    this.flush()
  }

  delayAck(ms: number): void {
    delayAck(this, ms)
  }

  /** The shared delayed-ack timer fired. */
  ackTimerFired(): void {
    this.core.ackTimerFired()
  }

  // ——— the transport ———

  /** Writes what the core has pending, if the transport can take it. */
  flush(): void {
    this.beforeFlush()
    const conn = this.conn
    const out = this.core.flush(conn !== undefined && !conn.writing && !conn.closed)
    if (out !== undefined) conn!.write(out as Buffer)
  }

  onWritable(_conn: Connection): void {
    if (this.core.hasWork) this.core.schedule()
  }

  onFrame(frame: Buffer, conn: Connection): void {
    this.#from = conn
    this.core.receive(frame, conn !== this.conn)
  }

  onChunk(_conn: Connection): void {
    noteRead()
    this.core.received()
  }

  /** The GOAWAY written before a connection closes on `error` (protocol errors, rate limit). */
  farewell(error: Error): Buffer | undefined {
    return goawayFor(this.codec, error)
  }

  /** Attaches a transport whose handshake is complete; replays the unacknowledged outbox onto it. */
  protected attach(conn: Connection, peerLastReceived: number): void {
    this.conn = conn
    this.core.attach(peerLastReceived)
    const { interval, timeout } = this.core.heartbeat
    this.#sweeper = sweeperFor(Math.min(interval, timeout))
    this.#sweeper.add(this)
  }

  /** Forgets the transport (it closed); the session lives on. Drops volatile messages. */
  protected detachConnection(): void {
    this.conn = undefined
    this.core.detach()
    this.#sweeper?.delete(this)
    this.#sweeper = undefined
  }

  sweep(now: number): void {
    const conn = this.conn
    if (conn === undefined || !this.core.established || conn.closed) return
    const idle = this.core.checkLife(now, conn.lastInbound, conn.lastOutbound)
    if (idle >= 0) {
      conn.close(
        new TimeoutError(ErrorCodes.HEARTBEAT_TIMEOUT, `Heartbeat timeout: nothing received for ${idle} ms`),
      )
    }
  }
}
