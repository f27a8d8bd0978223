// What a session core is given: its owner (`SessionHost`: events, handlers, scheduling) and the settings
// it shares with the other sessions of its kind (`SessionProfile`: payload codec, clock, limits, policy).

import type { Kind } from '../wire/kinds.ts'
import type { Payloads } from '../wire/payloads.ts'
import type { Clock } from './clock.ts'
import type { RequestHandler } from './incoming-requests.ts'
import type { OutboxLimits } from './outbox.ts'

export type RequestOptions = {
  /** Reject with WK_REQUEST_TIMEOUT after this many ms (the request may still run remotely). @default 30_000 */
  timeout?: number
  /** Reject with WK_ABORTED when aborted. */
  signal?: AbortSignal
}

/** What the core needs from its owner. */
export interface SessionHost {
  /** An event (reliable or volatile) arrived. */
  onEvent(name: string, data: unknown): void
  /**
   * Optional: a reliable raw-bytes event the owner reads in place (`frame` from `start`, valid during the
   * call only) instead of being handed a copy; false: decode and deliver it through onEvent as usual.
   */
  onRawEvent?(name: string, frame: Uint8Array, start: number): boolean
  /** The handler of requests for `method`, if any. */
  handlerFor(method: string): RequestHandler<unknown> | undefined
  /** HELLO, WELCOME, GOAWAY or BYE: the handshake and the end of a session. */
  onControl(kind: Kind, payload: unknown): void
  /** The outbox cannot take `size` more bytes: throw (a client), or cut the peer and throw (a server). */
  onOutboxFull(size: number, kind: Kind): void
  /** Something was queued: call `flush()` once this event-loop turn is over. */
  schedule(): void
  /** A long burst is queued: call `flush()` now, so the peer starts reading while more is built. */
  flushNow(): void
  /** A lone ack may wait about `ms`: call `ackTimerFired()` then (one shared timer is enough). */
  delayAck(ms: number): void
}

/** What every session of one kind shares (all peers of a server share one): made by `sessionProfile`. */
export type SessionProfile = Readonly<
  Required<Omit<SessionCoreOptions, 'maxFrameLength' | 'context' | 'limits'>>
> & {
  readonly limits: OutboxLimits | undefined
}

export type SessionCoreOptions = {
  payloads: Payloads
  clock: Clock
  /** Largest envelope sent or accepted (the smaller of both sides' once the handshake is done). */
  maxFrameLength: number
  limits?: OutboxLimits
  /** What request handlers get as their second argument (the client, the peer). */
  context: unknown
  /** Heartbeat until the handshake says otherwise. @default { interval: 15_000, timeout: 10_000 } */
  heartbeat?: { interval: number; timeout: number }
  /**
   * Requests of the peer's that may run at once; one more is answered with WK_BACKPRESSURE without
   * running its handler (a server bounds what one client can make it do). @default Infinity
   */
  maxHandling?: number
  /** Whether responses may go past the outbox bounds (they are bounded by the requests received). @default true */
  forceResponses?: boolean
  /** Whether this side pings an idle peer (a client does; a server answers). @default false */
  pings?: boolean
  /** How long an ack with nothing else to send may wait, in ms (0: written at the end of the turn). @default 0 */
  ackDelay?: number
  /** Whether MessagePack payloads are decoded (JSON and raw always are). @default true */
  acceptsMsgpack?: boolean
}

/** The shared part of `options`, with defaults. */
export function sessionProfile(
  options: Omit<SessionCoreOptions, 'maxFrameLength' | 'context'>,
): SessionProfile {
  return {
    payloads: options.payloads,
    clock: options.clock,
    limits: options.limits,
    heartbeat: options.heartbeat ?? { interval: 15_000, timeout: 10_000 },
    maxHandling: options.maxHandling ?? Number.POSITIVE_INFINITY,
    forceResponses: options.forceResponses ?? true,
    pings: options.pings ?? false,
    ackDelay: options.ackDelay ?? 0,
    acceptsMsgpack: options.acceptsMsgpack ?? true,
  }
}
