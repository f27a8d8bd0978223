// Delivers sequenced broadcasts in their global order, exactly once per node. Pub/sub is the fast
// path; a hole in the numbering (a missed message while re-subscribing) is filled from the Redis log,
// and what the log no longer has is reported as lost, never skipped silently. A claim captures what
// this node delivers while it runs, so a resumed session misses nothing between two positions.

import type { WireBroadcast } from './wire.ts'

export type SequencerHost = {
  /** Delivers broadcast number `seq` to the local peers it targets. */
  deliver(seq: number, wire: WireBroadcast): void
  /** Reads broadcasts `from`..`to` from the log; entries missing from the result were trimmed. */
  fetch(from: number, to: number): Promise<Map<number, WireBroadcast>>
  /** `count` broadcasts could not be delivered to this node (not in the log any more). */
  lost(count: number, error: unknown): void
  /** The epoch changed: Redis lost its data, sequence numbers start again. */
  epochChanged(): void
}

type Pending = { epoch: string; first: number; broadcasts: WireBroadcast[] }

/** Broadcasts this node delivers while a claim is in flight, by sequence number. */
export type Capture = Map<number, WireBroadcast>

const MAX_QUEUED_BATCHES = 100_000

export class Sequencer {
  /** The epoch of the numbering this node follows (undefined before the first sync). */
  epoch: string | undefined
  /** Highest sequence number delivered (or known lost) on this node. */
  seen = 0
  #host: SequencerHost
  #queue: Pending[] = []
  #busy = false
  #captures = new Set<Capture>()
  #waiters = new Set<{ seq: number; resolve: (ok: boolean) => void }>()

  constructor(host: SequencerHost) {
    this.#host = host
  }

  /** Starts following `epoch` from `seen` (a fresh node) without delivering anything older. */
  start(epoch: string, seen: number): void {
    this.epoch = epoch
    this.seen = seen
    this.#wake()
    if (!this.#busy && this.#queue.length > 0) void this.#drain()
  }

  /** A batch from the channel. */
  push(epoch: string, first: number, broadcasts: WireBroadcast[]): void {
    if (this.#queue.length >= MAX_QUEUED_BATCHES) {
      this.#host.lost(broadcasts.length, new Error('sequencer queue full'))
      return
    }
    this.#queue.push({ epoch, first, broadcasts })
    if (!this.#busy) void this.#drain()
  }

  /** After a reconnect: catch up to `last` in `epoch` from the log (a new epoch starts from 1). */
  catchUp(epoch: string, last: number): void {
    if (this.epoch !== epoch) {
      this.epoch = epoch
      this.seen = 0
      this.#host.epochChanged()
    }
    // A marker batch with no broadcasts: draining it fills the hole up to `last`.
    if (last > this.seen) this.push(epoch, last + 1, [])
  }

  capture(): Capture {
    const capture: Capture = new Map()
    this.#captures.add(capture)
    return capture
  }

  release(capture: Capture): void {
    this.#captures.delete(capture)
  }

  /** Resolves true once `seq` is delivered here, false after `timeout` ms. */
  waitFor(seq: number, timeout: number): Promise<boolean> {
    if (this.seen >= seq) return Promise.resolve(true)
    return new Promise((resolve) => {
      const waiter = {
        seq,
        resolve: (ok: boolean) => {
          clearTimeout(timer)
          this.#waiters.delete(waiter)
          resolve(ok)
        },
      }
      const timer = setTimeout(() => waiter.resolve(false), timeout)
      this.#waiters.add(waiter)
    })
  }

  #wake(): void {
    for (const waiter of this.#waiters) if (this.seen >= waiter.seq) waiter.resolve(true)
  }

  async #drain(): Promise<void> {
    this.#busy = true
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.shift()!
        if (this.epoch === undefined) {
          // Not synced yet: keep the batch for after start().
          this.#queue.unshift(batch)
          return
        }
        if (batch.epoch !== this.epoch) {
          this.epoch = batch.epoch
          this.seen = 0
          this.#host.epochChanged()
        }
        if (batch.first > this.seen + 1) await this.#fill(batch.epoch, this.seen + 1, batch.first - 1)
        if (batch.epoch !== this.epoch) continue
        for (let i = 0; i < batch.broadcasts.length; i++) this.#deliver(batch.first + i, batch.broadcasts[i]!)
        this.#wake()
      }
    } finally {
      this.#busy = false
    }
  }

  async #fill(epoch: string, from: number, to: number): Promise<void> {
    let found: Map<number, WireBroadcast>
    let reason: unknown = new Error('not in the Redis log any more (trimmed, or Redis lost its data)')
    try {
      found = await this.#host.fetch(from, to)
    } catch (error) {
      found = new Map()
      reason = error
    }
    if (this.epoch !== epoch) return
    let missing = 0
    for (let seq = from; seq <= to; seq++) {
      const wire = found.get(seq)
      if (wire !== undefined) this.#deliver(seq, wire)
      else if (seq > this.seen) {
        missing++
        this.seen = seq
      }
    }
    if (missing > 0) this.#host.lost(missing, reason)
  }

  #deliver(seq: number, wire: WireBroadcast): void {
    if (seq <= this.seen) return
    this.seen = seq
    for (const capture of this.#captures) capture.set(seq, wire)
    this.#host.deliver(seq, wire)
  }

  close(): void {
    this.#queue = []
    for (const waiter of this.#waiters) waiter.resolve(false)
  }
}
