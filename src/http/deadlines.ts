// The request deadlines of one session on a single timer. An exchange in flight joins the set with its deadline; one
// unref'd timer is armed for the earliest deadline and, when it fires, expires what is due and re-arms for the next.
// A request that answers in time just leaves the set: a Set add and delete instead of a setTimeout/clearTimeout pair.
import { startTimer } from '../util/timeout.ts'

/** Something with a deadline (a `performance.now()` instant) that can be told it has passed. */
export type Expirable = {
  readonly deadline: number
  expire(): void
}

// Timers may fire a little before a `performance.now()` instant (libuv's clock is cached per loop turn): anything due
// within this margin is expired rather than re-armed for a fraction of a millisecond.
const SLACK_MS = 1

export class DeadlineSweep {
  readonly #pending = new Set<Expirable>()
  #armedFor = Number.POSITIVE_INFINITY
  #cancel: (() => void) | undefined
  readonly #onTimer = (): void => this.#sweep()

  /** Watches `entry` until `delete(entry)`; `expire()` is called once its deadline passes. */
  add(entry: Expirable): void {
    this.#pending.add(entry)
    // The armed timer already covers a later deadline (the common case: every request has the same timeout).
    if (entry.deadline < this.#armedFor) this.#arm(entry.deadline)
  }

  /** Stops watching `entry`. The timer stays armed: it is unref'd, and re-arming per request is the cost saved. */
  delete(entry: Expirable): void {
    this.#pending.delete(entry)
  }

  /** Entries currently watched. */
  get size(): number {
    return this.#pending.size
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
    // Deleting the entry being visited is safe while iterating a Set; expire() may delete others (also safe).
    for (const entry of this.#pending) {
      if (entry.deadline <= due) {
        this.#pending.delete(entry)
        entry.expire()
      } else if (entry.deadline < next) next = entry.deadline
    }
    if (next !== Number.POSITIVE_INFINITY && next < this.#armedFor) this.#arm(next)
  }
}
