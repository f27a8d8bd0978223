// A server's per-peer message rate limit (MessageServerOptions.rateLimit): a token bucket refilling
// continuously at `messages / interval`. 'throttle': frames over the budget are held (copies, at most one
// chunk's worth) and the connection stops reading until tokens are back, so TCP pushes the client back;
// 'disconnect': the connection is cut with WK_RATE_LIMITED (the session stays resumable).
// A Peer makes one only when the server has a rate limit: an unlimited peer carries one empty field.

import { BackpressureError, ErrorCodes } from '../errors.ts'
import { publishRateLimited } from './channels.ts'
import { type CoreOwner, receiveFrame } from './session.ts'
import type { Connection } from './transport/connection.ts'

export type RateLimit = {
  /** Messages allowed per `interval`. */
  messages: number
  /** Window in ms. @default 1000 */
  interval?: number
  /** 'throttle' delivers at most `messages` per `interval` (a token bucket): messages over it wait, copied if already read, and the connection stops reading until the budget refills (TCP pushes back); 'disconnect' cuts the connection with WK_RATE_LIMITED (the session stays resumable). @default 'throttle' */
  action?: 'throttle' | 'disconnect'
}

/** The peer a throttle works for (a server's Peer). */
export type Throttled = CoreOwner & { readonly id: string }

export class FrameThrottle {
  readonly #limit: RateLimit
  readonly #peer: Throttled
  #tokens: number
  #refilledAt = Date.now()
  /** Frames read over the limit ('throttle'): copies, delivered in order as the budget refills. */
  #held: Buffer[] | undefined
  #heldOn: Connection | undefined

  constructor(limit: RateLimit, peer: Throttled) {
    this.#limit = limit
    this.#peer = peer
    this.#tokens = limit.messages
  }

  /**
   * Whether `frame` may be delivered now. If not, a copy is held (frames are slices of the read buffer)
   * and the connection stops reading after this chunk. Throws WK_RATE_LIMITED ('disconnect').
   */
  admit(frame: Buffer, conn: Connection): boolean {
    if (this.#heldOn !== conn) this.#held = undefined
    // Behind held frames, a frame waits too, even with a token: order is kept.
    if (this.#held === undefined && this.#take()) return true
    ;(this.#held ??= []).push(Buffer.from(frame))
    this.#heldOn = conn
    if (conn.gate === undefined) this.#pause(conn)
    return false
  }

  /** Takes one token, or returns false when there is none ('throttle'), or throws ('disconnect'). */
  #take(): boolean {
    const limit = this.#limit
    const interval = limit.interval ?? 1000
    const now = Date.now()
    this.#tokens = Math.min(
      limit.messages,
      this.#tokens + ((now - this.#refilledAt) * limit.messages) / interval,
    )
    this.#refilledAt = now
    if (this.#tokens >= 1) {
      this.#tokens -= 1
      return true
    }
    if (limit.action === 'disconnect') {
      publishRateLimited(this.#peer, 'disconnect')
      throw new BackpressureError(
        ErrorCodes.RATE_LIMITED,
        `Peer ${this.#peer.id} sent more than ${limit.messages} messages in ${interval} ms`,
      )
    }
    return false
  }

  /** Stops reading (after this chunk) until a token is back; TCP flow control slows the sender meanwhile. */
  #pause(conn: Connection): void {
    const limit = this.#limit
    publishRateLimited(this.#peer, 'throttle')
    const wait = Math.max(1, Math.ceil(((1 - this.#tokens) * (limit.interval ?? 1000)) / limit.messages))
    conn.gate = new Promise<void>((resolve) => setTimeout(resolve, wait).unref()).then(() => {
      conn.gate = undefined
      this.#release(conn)
    })
  }

  /** The budget refilled: delivers held frames while tokens last; the rest wait for the next refill. */
  #release(conn: Connection): void {
    const held = this.#held
    const peer = this.#peer
    // Held frames belong to the transport that read them (a resume may have replaced it since).
    if (held === undefined || conn !== this.#heldOn) return
    if (conn !== peer.conn || conn.closed || peer.core.over) {
      // Never delivered, so never acknowledged: the client sends them again after it resumes.
      this.#held = undefined
      this.#heldOn = undefined
      return
    }
    let i = 0
    try {
      while (i < held.length && this.#take()) receiveFrame(peer, held[i++]!, conn)
    } catch (error) {
      this.#held = undefined
      conn.close(error as Error, peer.farewell(error as Error))
      return
    }
    if (i === held.length) this.#held = undefined
    else {
      held.splice(0, i)
      this.#pause(conn)
    }
    // Acknowledge what was delivered, as after a chunk.
    peer.onChunk(conn)
  }
}
