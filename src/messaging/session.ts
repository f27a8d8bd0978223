// A session core (session/core.ts) on Node transports: what MessageClient and the server's Peer share.
// Each owns a core and its current Connection; these functions are the thin loop between them. The
// core's frames come from the Connection, its batches are written once per event-loop turn for all
// sessions (or at once for a long burst), and it borrows Node's timers: the shared heartbeat sweepers,
// the delayed-ack timer and the request-deadline sweeper. No object of its own per session.

import { ErrorCodes, TimeoutError } from '../errors.ts'
import type { FrameCodec } from '../framing/index.ts'
import { type AckHolder, noteRead } from './delayed-acks.ts'
import { type Heartbeat, nodeClock, type Sweepable, sweeperFor } from './heartbeat.ts'
import {
  SessionCore,
  type SessionCoreOptions,
  type SessionHost,
  type SessionProfile,
  sessionProfile,
} from './session/core.ts'
import type { OutboxLimits } from './session/outbox.ts'
import type { Connection, ConnectionOwner } from './transport/connection.ts'
import { nodePayloads, type PayloadCodecName } from './wire/payload-codec.ts'

export { MAX_EARLY_FRAME_BYTES, type RequestOptions } from './session/core.ts'
export type { RequestHandler } from './session/incoming-requests.ts'

/** A MessageClient or a Peer: the owner of a core and of the connection under it. */
export interface CoreOwner extends ConnectionOwner, SessionHost, Sweepable, AckHolder {
  readonly core: SessionCore
  readonly codec: FrameCodec
  /** The transport; the core is `established` once the handshake is done on it. */
  conn: Connection | undefined
  /** Called at every flush, before writing (the server syncs its session store here). */
  beforeFlush(): void
}

export type SessionSettings = {
  payloadCodec: PayloadCodecName
  heartbeat: Heartbeat
  maxFrameLength: number
  limits: OutboxLimits | undefined
} & Pick<SessionCoreOptions, 'pings' | 'ackDelay' | 'acceptsMsgpack' | 'maxHandling' | 'forceResponses'>

/** Node's payload codecs and clock with `settings`: one profile per client, one per server for all peers. */
export function nodeProfile(settings: SessionSettings): SessionProfile {
  return sessionProfile({
    payloads: nodePayloads(settings.payloadCodec),
    clock: nodeClock,
    heartbeat: settings.heartbeat,
    limits: settings.limits,
    pings: settings.pings,
    ackDelay: settings.ackDelay,
    acceptsMsgpack: settings.acceptsMsgpack,
    maxHandling: settings.maxHandling,
    forceResponses: settings.forceResponses,
  })
}

/** A core for `owner` (also its handlers' context). */
export function nodeCore(owner: SessionHost, profile: SessionProfile, maxFrameLength: number): SessionCore {
  return new SessionCore(owner, { profile, context: owner, maxFrameLength })
}

// Sessions with something to write, flushed together once per event-loop turn.
let dirty: CoreOwner[] = []
let flushScheduled = false

function flushDirty(): void {
  flushScheduled = false
  const list = dirty
  dirty = []
  for (const owner of list) flushSession(owner)
}

/** The core queued something (SessionHost.schedule): flush it at the end of this turn. */
export function scheduleFlush(owner: CoreOwner): void {
  dirty.push(owner)
  if (!flushScheduled) {
    flushScheduled = true
    setImmediate(flushDirty)
  }
}

/** Writes what the core has pending, if the transport can take it. */
export function flushSession(owner: CoreOwner): void {
  owner.beforeFlush()
  const conn = owner.conn
  const out = owner.core.flush(conn !== undefined && !conn.writing && !conn.closed)
  if (out !== undefined) conn!.write(out as Buffer)
}

/** A write completed (ConnectionOwner.onWritable): what waited for it goes next. */
export function resumeWriting(owner: CoreOwner): void {
  if (owner.core.hasWork) owner.core.schedule()
}

// The connection whose frame is being handled: frames are handled one at a time, synchronously.
let source: Connection | undefined

/** One frame from `conn` (ConnectionOwner.onFrame). A transport already replaced carries only the handshake. */
export function receiveFrame(owner: CoreOwner, frame: Buffer, conn: Connection): void {
  source = conn
  try {
    owner.core.receive(frame, conn !== owner.conn)
  } finally {
    // Holding the last connection here would keep its session alive after it ended.
    source = undefined
  }
}

/** The connection the frame being handled came from (for SessionHost.onControl). */
export function frameSource(): Connection {
  return source!
}

/** All frames of a chunk were handled (ConnectionOwner.onChunk): time to decide about the ack. */
export function chunkReceived(owner: CoreOwner): void {
  noteRead()
  owner.core.received()
}

/** Puts a transport whose handshake is complete under the core; the unacknowledged outbox is replayed onto it. */
export function attachTransport(owner: CoreOwner, conn: Connection, peerLastReceived: number): void {
  owner.conn = conn
  owner.core.attach(peerLastReceived)
  sweeperOf(owner.core.heartbeat).add(owner)
}

/** Forgets the transport (it closed); the session lives on. Drops volatile messages. */
export function detachTransport(owner: CoreOwner): void {
  owner.conn = undefined
  owner.core.detach()
  sweeperOf(owner.core.heartbeat).delete(owner)
}

function sweeperOf(heartbeat: Heartbeat) {
  return sweeperFor(Math.min(heartbeat.interval, heartbeat.timeout))
}

/** A heartbeat tick (Sweepable.sweep): a silent transport is closed, an idle one pinged (clients). */
export function sweepSession(owner: CoreOwner, now: number): void {
  const conn = owner.conn
  if (conn === undefined || !owner.core.established || conn.closed) return
  const idle = owner.core.checkLife(now, conn.lastInbound, conn.lastOutbound)
  if (idle >= 0) {
    conn.close(
      new TimeoutError(ErrorCodes.HEARTBEAT_TIMEOUT, `Heartbeat timeout: nothing received for ${idle} ms`),
    )
  }
}
