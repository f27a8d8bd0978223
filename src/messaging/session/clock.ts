// Time as a session core sees it: a clock it reads and a way to be called back regularly, both given by
// its owner (Node: Date.now and the shared sweepers; a browser: an interval; a test: a hand-turned clock),
// so the core keeps no timer of its own and tests need no sleeps.

/** Something checked on every tick of a sweeper. */
export interface Sweepable {
  sweep(now: number): void
}

export interface Clock {
  now(): number
  /** Calls `target.sweep(now)` every few ms until unwatched (request deadlines, 16 ms precision in Node). */
  watch(target: Sweepable): void
  unwatch(target: Sweepable): void
}
