// Shared timers for every connection in the process: one unref'd interval per resolution walks the
// registered sessions and lets each check its heartbeat and request deadlines. No timer per connection,
// so 10k idle peers cost 10k set entries, not 10k timers (the idea of undici's timer wheel).

import type { Clock, Sweepable } from './session/clock.ts'

export type { Sweepable }

export type HeartbeatOptions = {
  /** A side that has received nothing for this long sends a ping, in ms. @default 15_000 */
  interval?: number
  /** The peer is declared dead after `interval + timeout` ms without any inbound frame. @default 10_000 */
  timeout?: number
}

export type Heartbeat = { interval: number; timeout: number }

export function resolveHeartbeat(options: HeartbeatOptions | undefined): Heartbeat {
  return { interval: options?.interval ?? 15_000, timeout: options?.timeout ?? 10_000 }
}

/** One interval ticking every `resolution` ms while anything is registered. */
export class Sweeper {
  readonly resolution: number
  #items = new Set<Sweepable>()
  #timer: NodeJS.Timeout | undefined

  constructor(resolution: number) {
    this.resolution = resolution
  }

  add(item: Sweepable): void {
    this.#items.add(item)
    if (this.#timer === undefined) {
      this.#timer = setInterval(tick, this.resolution, this)
      this.#timer.unref()
    }
  }

  delete(item: Sweepable): void {
    this.#items.delete(item)
    if (this.#items.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }

  get size(): number {
    return this.#items.size
  }

  run(): void {
    const now = Date.now()
    for (const item of this.#items) item.sweep(now)
  }
}

function tick(sweeper: Sweeper): void {
  sweeper.run()
}

const sweepers = new Map<number, Sweeper>()

/**
 * The shared sweeper fine enough for a deadline of `ms`: about a quarter of it, rounded to a power of two
 * between 16 ms and 1024 ms, so a few distinct settings share a few intervals.
 */
export function sweeperFor(ms: number): Sweeper {
  const target = Math.min(1024, Math.max(16, ms / 4))
  const resolution = 2 ** Math.floor(Math.log2(target))
  let sweeper = sweepers.get(resolution)
  if (sweeper === undefined) {
    sweeper = new Sweeper(resolution)
    sweepers.set(resolution, sweeper)
  }
  return sweeper
}

/** The sweeper that checks request deadlines (16 ms precision); separate from the heartbeat ones. */
export const deadlineSweeper: Sweeper = new Sweeper(16)

/** The clock of every Node session: Date.now, request deadlines on the shared deadline sweeper. */
export const nodeClock: Clock = {
  now: Date.now,
  watch: (target) => deadlineSweeper.add(target),
  unwatch: (target) => deadlineSweeper.delete(target),
}
