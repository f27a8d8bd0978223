// The clock of sessions in browsers (and any runtime without Node's shared sweepers): Date.now, and one
// interval for all of a page's request deadlines, running only while a request waits.

import type { Clock, Sweepable } from './clock.ts'

const RESOLUTION_MS = 50
const watched = new Set<Sweepable>()
let timer: ReturnType<typeof setInterval> | undefined

function tick(): void {
  const now = Date.now()
  for (const target of watched) target.sweep(now)
}

export const webClock: Clock = {
  now: Date.now,
  watch(target) {
    watched.add(target)
    timer ??= setInterval(tick, RESOLUTION_MS)
  },
  unwatch(target) {
    watched.delete(target)
    if (watched.size === 0 && timer !== undefined) {
      clearInterval(timer)
      timer = undefined
    }
  },
}
