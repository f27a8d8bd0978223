// The request deadlines of one session on a single timer. An exchange in flight joins a list with its deadline; one
// unref'd timer is armed for the earliest deadline and, when it fires, expires what is due and re-arms for the next.
// A request that answers in time just leaves the list: two pointer writes instead of a setTimeout/clearTimeout pair.
//
// The list is intrusive (links live on the entries) rather than a Set: measured with --trace-gc under load, a Set here
// let finished requests survive young-generation collections (the heap grew ~1.5 MB per scavenge until a full GC),
// which cost more CPU than the per-request timers it replaced; the list shows no such growth.
import { startTimer } from '../util/timeout.ts'

export const kPrev: unique symbol = Symbol('deadline.prev')
export const kNext: unique symbol = Symbol('deadline.next')

/** Something with a deadline (a `performance.now()` instant) that can be told it has passed. */
export type Expirable = {
  readonly deadline: number
  expire(): void
  /** Links owned by the DeadlineSweep: initialise both to undefined. */
  [kPrev]: Expirable | undefined
  [kNext]: Expirable | undefined
}

// Timers may fire a little before a `performance.now()` instant (libuv's clock is cached per loop turn): anything due
// within this margin is expired rather than re-armed for a fraction of a millisecond.
const SLACK_MS = 1

export class DeadlineSweep {
  #head: Expirable | undefined
  #size = 0
  #armedFor = Number.POSITIVE_INFINITY
  #cancel: (() => void) | undefined
  readonly #onTimer = (): void => this.#sweep()

  /** Watches `entry` until `delete(entry)`; `expire()` is called once its deadline passes. */
  add(entry: Expirable): void {
    const head = this.#head
    entry[kPrev] = undefined
    entry[kNext] = head
    if (head !== undefined) head[kPrev] = entry
    this.#head = entry
    this.#size++
    // The armed timer already covers a later deadline (the common case: every request has the same timeout).
    if (entry.deadline < this.#armedFor) this.#arm(entry.deadline)
  }

  /** Stops watching `entry` (a no-op when it is not watched). The timer stays armed: re-arming per request is the cost saved. */
  delete(entry: Expirable): void {
    const prev = entry[kPrev]
    const next = entry[kNext]
    if (prev === undefined && this.#head !== entry) return
    if (prev === undefined) this.#head = next
    else prev[kNext] = next
    if (next !== undefined) next[kPrev] = prev
    // Cleared links keep a finished request from holding its neighbours alive.
    entry[kPrev] = undefined
    entry[kNext] = undefined
    this.#size--
  }

  /** Entries currently watched. */
  get size(): number {
    return this.#size
  }

  /** Cancels the timer; entries still watched are left alone (their requests settle on their own). */
  stop(): void {
    this.#cancel?.()
    this.#cancel = undefined
    this.#armedFor = Number.POSITIVE_INFINITY
  }

  #arm(deadline: number): void {
    this.#cancel?.()
    this.#armedFor = deadline
    this.#cancel = startTimer(Math.max(1, Math.ceil(deadline - performance.now())), this.#onTimer)
  }

  #sweep(): void {
    this.#cancel = undefined
    this.#armedFor = Number.POSITIVE_INFINITY
    const due = performance.now() + SLACK_MS
    let next = Number.POSITIVE_INFINITY
    let expired: Expirable[] | undefined
    for (let entry = this.#head; entry !== undefined; entry = entry[kNext]) {
      if (entry.deadline <= due) (expired ??= []).push(entry)
      else if (entry.deadline < next) next = entry.deadline
    }
    // Expire after the walk: expire() settles requests, which may change the list. A late timer (a busy loop) may
    // find several due at once: earliest deadline first, whatever the order they were added in.
    if (expired !== undefined) {
      if (expired.length > 1) expired.sort(byDeadline)
      for (const entry of expired) {
        this.delete(entry)
        entry.expire()
      }
    }
    if (next !== Number.POSITIVE_INFINITY && next < this.#armedFor) this.#arm(next)
  }
}

function byDeadline(a: Expirable, b: Expirable): number {
  return a.deadline - b.deadline
}
