// Which offsets a read returns and what it reports as gone, from a room log's state alone. Every store
// asks this one function, so "what is gone" is computed the same way on memory, SQLite and Redis.
//
//   after in this incarnation ──after+1 ≥ first──► read after+1.. (no gap)
//             │                 └─after+1 < first─► gap 'trimmed' after+1..first-1, read first..
//   after from another epoch, or beyond head ─────► gap 'epoch' (previous = after), read first..

import type { HistoryGap, HistoryPosition } from './types.ts'

/** A room log's state: its epoch, oldest kept offset and last offset (first = last + 1 when empty). */
export type LogState = { epoch: string; first: number; last: number }

export type ReadPlan = { from: number; to: number; gap?: HistoryGap }

/** True when `after` is a position of this incarnation of the log. */
export function sameIncarnation(after: HistoryPosition, log: LogState): boolean {
  if (after.epoch === '' && after.offset === 0) return true // taken before the room had any log
  return after.epoch === log.epoch && after.offset <= log.last
}

/** Offsets `from`..`to` to return (empty when from > to), and the gap to report, if any. */
export function planRead(
  room: string,
  after: HistoryPosition | undefined,
  log: LogState,
  limit: number,
): ReadPlan {
  let from = log.first
  let gap: HistoryGap | undefined
  if (after !== undefined) {
    if (sameIncarnation(after, log)) {
      from = after.offset + 1
      if (from < log.first) {
        gap = { reason: 'trimmed', room, epoch: log.epoch, from, to: log.first - 1, count: log.first - from }
        from = log.first
      }
    } else {
      const count = log.first - 1
      gap = {
        reason: 'epoch',
        room,
        epoch: log.epoch,
        from: 1,
        to: log.first - 1,
        count,
        previous: { ...after },
      }
    }
  }
  return { from, to: Math.min(log.last, from + limit - 1), gap }
}

/** Checks a position from outside (a client): integer offset ≥ 0, string epoch of sane length. */
export function isPosition(value: unknown): value is HistoryPosition {
  if (typeof value !== 'object' || value === null) return false
  const { offset, epoch } = value as Record<string, unknown>
  return (
    Number.isSafeInteger(offset) && (offset as number) >= 0 && typeof epoch === 'string' && epoch.length <= 64
  )
}
