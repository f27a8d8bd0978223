// One direction of a proxied connection: bytes from `source` are queued with a due time, then written
// to `destination` under the direction's faults (latency and jitter, bandwidth, split, blackhole).
//
//   source 'data' → [ queue of { bytes, due } ] → pump → destination.write
//                    pauses source above maxQueued   one timer at a time, drain-aware

import type { Socket } from 'node:net'
import { startTimer } from '../util/timeout.ts'
import type { ResolvedDirectionFaults } from './faults.ts'

/** Byte counters of one direction, summed over connections by the proxy. */
export type DirectionCounters = { forwarded: number; dropped: number }

type Segment = { bytes: Buffer; offset: number; due: number }

/** A bandwidth-limited write is cut to about this many ms of traffic, so throttling is smooth. */
const BANDWIDTH_SLICE_MS = 20

export class FaultPipe {
  readonly #source: Socket
  readonly #destination: Socket
  readonly #faults: () => ResolvedDirectionFaults
  readonly #silenced: () => boolean
  readonly #counters: DirectionCounters
  readonly #maxQueued: number
  #queue: Segment[] = []
  #queued = 0
  #paused = false
  /** Due time of the last queued segment: later segments never overtake it, whatever the jitter. */
  #lastDue = 0
  /** With bandwidth on: when the next write may go out. */
  #nextSendAt = 0
  /** Set while the pump waits for a timer, an immediate or 'drain'; `#wakeId` tells a stale wake-up from the current one. */
  #waiting = false
  #wakeId = 0
  #cancelTimer: () => void = noop
  #sourceEnded = false
  #closed = false

  constructor(
    source: Socket,
    destination: Socket,
    faults: () => ResolvedDirectionFaults,
    silenced: () => boolean,
    counters: DirectionCounters,
    maxQueued: number,
  ) {
    this.#source = source
    this.#destination = destination
    this.#faults = faults
    this.#silenced = silenced
    this.#counters = counters
    this.#maxQueued = maxQueued
    source.on('data', (chunk: Buffer) => this.#onData(chunk))
    source.on('end', () => {
      this.#sourceEnded = true
      this.#pump()
    })
  }

  /** Bytes waiting in the delay queue. */
  get queued(): number {
    return this.#queued
  }

  /** Re-evaluates the queue now: called when faults change so a shorter delay or a lifted blackhole takes effect. */
  kick(): void {
    if (this.#closed) return
    this.#cancelTimer()
    this.#cancelTimer = noop
    this.#waiting = false
    this.#wakeId++
    this.#pump()
  }

  /** Stops all work: drops the queue and cancels the timer. */
  close(): void {
    this.#closed = true
    this.#cancelTimer()
    this.#queue = []
    this.#queued = 0
  }

  #blackholed(): boolean {
    return this.#faults().blackhole || this.#silenced()
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return
    if (this.#blackholed()) {
      this.#counters.dropped += chunk.length
      return
    }
    const { latency, jitter } = this.#faults()
    const now = performance.now()
    const delay = Math.max(0, latency + (jitter > 0 ? (Math.random() * 2 - 1) * jitter : 0))
    const due = Math.max(now + delay, this.#lastDue)
    this.#lastDue = due
    this.#queue.push({ bytes: chunk, offset: 0, due })
    this.#queued += chunk.length
    if (!this.#paused && this.#queued > this.#maxQueued) {
      this.#paused = true
      this.#source.pause()
    }
    this.#pump()
  }

  #pump(): void {
    if (this.#waiting || this.#closed) return
    if (this.#blackholed()) {
      // Silence covers what is already queued, and the FIN: the peer sees nothing at all.
      for (const segment of this.#queue) this.#counters.dropped += segment.bytes.length - segment.offset
      this.#queue = []
      this.#queued = 0
      this.#resumeIfLow()
      return
    }
    const { bandwidth, split } = this.#faults()
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!
      const now = performance.now()
      const wakeAt = Math.max(head.due, bandwidth > 0 ? this.#nextSendAt : 0)
      if (wakeAt > now) {
        this.#wait((resume) => {
          this.#cancelTimer = startTimer(Math.max(1, Math.ceil(wakeAt - now)), resume)
        })
        return
      }
      let size = head.bytes.length - head.offset
      if (split > 0) size = Math.min(size, split)
      if (bandwidth > 0)
        size = Math.min(size, Math.max(1, Math.floor((bandwidth * BANDWIDTH_SLICE_MS) / 1000)))
      const piece = head.bytes.subarray(head.offset, head.offset + size)
      head.offset += size
      if (head.offset === head.bytes.length) this.#queue.shift()
      this.#queued -= size
      this.#counters.forwarded += size
      if (bandwidth > 0) this.#nextSendAt = Math.max(this.#nextSendAt, now) + (size * 1000) / bandwidth
      const flushed = this.#destination.write(piece)
      this.#resumeIfLow()
      if (!flushed) {
        this.#wait((resume) => this.#destination.once('drain', resume))
        return
      }
      if (split > 0 && this.#queue.length > 0) {
        // Yield to the event loop so each segment leaves in its own write (and, with noDelay, its own packet).
        this.#wait((resume) => {
          const immediate = setImmediate(resume)
          this.#cancelTimer = () => clearImmediate(immediate)
        })
        return
      }
    }
    if (this.#sourceEnded && !this.#destination.writableEnded) this.#destination.end()
  }

  #wait(arm: (resume: () => void) => void): void {
    this.#waiting = true
    const id = ++this.#wakeId
    arm(() => {
      if (id !== this.#wakeId) return // kicked meanwhile: a fresh pump already runs
      this.#waiting = false
      this.#cancelTimer = noop
      this.#pump()
    })
  }

  #resumeIfLow(): void {
    if (this.#paused && this.#queued <= this.#maxQueued / 2) {
      this.#paused = false
      this.#source.resume()
    }
  }
}

function noop(): void {}
