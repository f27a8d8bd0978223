// A client's subscription to a durable room: what `client.subscribe(room, { recover })` returns. It
// delivers publications with their place in the room's log, reports gaps, and remembers the last
// position so the client can re-subscribe from it after any reconnect. Browser-safe (no node: imports).

import type { HistoryPosition } from './cluster/history/types.ts'
import { type Listener, Listeners } from './listeners.ts'
import type { RoomGap, RoomPublication } from './room-message.ts'

export type SubscribeOptions = {
  /**
   * Get what was published while away: after a reconnect, resume, lost session or another node, the
   * subscription resumes from its last position (replayed from the room's log, then live). @default false
   */
  recover?: boolean
  /** Start from this position (replay what follows it) instead of from now. */
  since?: HistoryPosition
}

/** Where a message sits in its room's log. */
export type MessageMeta = { room: string; name: string; offset: number; epoch: string }

/** What could not be recovered: offsets `from`..`to` of `epoch` (and, for 'epoch', all after `previous`). */
export type GapInfo = {
  room: string
  reason: 'trimmed' | 'epoch'
  epoch: string
  from: number
  to: number
  count: number
  previous?: HistoryPosition
}

export type SubscriptionEvents = {
  message: (data: unknown, meta: MessageMeta) => void
  gap: (info: GapInfo) => void
}

export class Subscription {
  readonly room: string
  readonly recover: boolean
  #position: HistoryPosition | undefined
  #active = true
  /** Room messages received before the caller could attach listeners (until release()). */
  #held: (RoomPublication | RoomGap)[] | undefined = []
  readonly #listeners = new Listeners()
  readonly #decode: (format: number, bytes: Uint8Array, start: number) => unknown
  readonly #end: (subscription: Subscription) => Promise<void>

  /** Made by the client; `end` tells the server and forgets the subscription. */
  constructor(
    room: string,
    options: SubscribeOptions,
    decode: (format: number, bytes: Uint8Array, start: number) => unknown,
    end: (subscription: Subscription) => Promise<void>,
  ) {
    this.room = room
    this.recover = options.recover === true
    this.#position = options.since === undefined ? undefined : { ...options.since }
    this.#decode = decode
    this.#end = end
  }

  /** The last position delivered (or the `since` given, before the first message). */
  get position(): HistoryPosition | undefined {
    return this.#position === undefined ? undefined : { ...this.#position }
  }

  get active(): boolean {
    return this.#active
  }

  /** Where a re-subscribe starts: the last position when recovering, else from now. */
  get resumeFrom(): HistoryPosition | undefined {
    return this.recover ? this.position : undefined
  }

  on<E extends keyof SubscriptionEvents>(event: E, listener: SubscriptionEvents[E]): this
  on(event: 'error', listener: (error: unknown) => void): this
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

  /** Stops the subscription; nothing is delivered after the call. */
  async unsubscribe(): Promise<void> {
    if (!this.#active) return
    this.#active = false
    await this.#end(this)
  }

  /** Delivers what was held while subscribe() was resolving; from now on messages go straight through. */
  release(): void {
    const held = this.#held
    this.#held = undefined
    for (const message of held ?? []) this.receive(message)
  }

  /** The position the server started the feed at (kept unless a message already moved past it). */
  begin(position: HistoryPosition): void {
    if (this.#position === undefined) this.#position = { offset: position.offset, epoch: position.epoch }
  }

  /**
   * Fed by the client with the room messages it receives; a duplicate (at or before the position) is
   * dropped. A publication (the object and its `bytes`) need only be valid during the call.
   */
  receive(message: RoomPublication | RoomGap): void {
    if (!this.#active) return
    if (this.#held !== undefined) {
      // A publication's bytes may be a received frame, valid only now: the held one keeps a copy.
      this.#held.push(
        message.type === 'gap'
          ? message
          : {
              ...message,
              bytes: Uint8Array.prototype.slice.call(message.bytes, message.bodyStart),
              bodyStart: 0,
            },
      )
      return
    }
    const position = this.#position
    if (message.type === 'gap') {
      // The server judged from the position it was asked for; a message of the old feed can have arrived
      // since (a re-subscribe racing the previous feed). The gap names only what this subscriber lacks.
      // (An 'epoch' gap starts the position over, even under the same epoch name: a position beyond the
      // log's head was never this log's.)
      let from = message.from
      if (message.reason === 'trimmed' && position !== undefined && position.epoch === message.epoch) {
        if (message.to <= position.offset) return
        from = Math.max(from, position.offset + 1)
      }
      const info: GapInfo = {
        room: this.room,
        reason: message.reason,
        epoch: message.epoch,
        from,
        to: message.to,
        count: Math.max(0, message.to - from + 1),
      }
      if (message.previous !== undefined) {
        const had = position !== undefined && position.epoch === message.previous.epoch
        info.previous = had && position.offset > message.previous.offset ? { ...position } : message.previous
      }
      this.#position = {
        offset: message.reason === 'trimmed' ? Math.max(message.to, from - 1) : message.to,
        epoch: message.epoch,
      }
      this.#listeners.dispatch('gap', info)
      return
    }
    if (position !== undefined && position.epoch === message.epoch && message.offset <= position.offset)
      return
    // Kept in place (the getter hands out copies): one object less per message.
    if (position === undefined) this.#position = { offset: message.offset, epoch: message.epoch }
    else {
      position.offset = message.offset
      position.epoch = message.epoch
    }
    let data: unknown
    try {
      data = this.#decode(message.format, message.bytes, message.bodyStart)
    } catch (error) {
      this.#listeners.fail(error)
      return
    }
    const meta: MessageMeta = {
      room: this.room,
      name: message.name,
      offset: message.offset,
      epoch: message.epoch,
    }
    this.#listeners.dispatch('message', data, meta)
  }
}
