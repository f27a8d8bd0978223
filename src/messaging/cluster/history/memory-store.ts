// The memory history store: each room's log is an array in this process. Fast, bounded by the limits,
// gone when the process ends (a new store is a new epoch, so a returning subscriber is told).

import { randomBytes } from 'node:crypto'
import { ClosedError, ErrorCodes } from '../../../errors.ts'
import { entrySize, mustTrim, type ResolvedLimits, RoomLimits, resolveReadLimit } from './limits.ts'
import { type LogState, planRead } from './read-window.ts'
import type {
  HistoryEntry,
  HistoryLimits,
  HistoryPage,
  HistoryPosition,
  HistoryReadOptions,
  HistoryRoomLimits,
  HistoryStore,
} from './types.ts'

export type MemoryHistoryOptions = HistoryLimits & {
  /** Other limits for rooms matching a pattern. @example { 'audit:*': { maxMessages: 100_000 } } */
  rooms?: HistoryRoomLimits
  /** The clock entries are stamped with and aged by (ms). @default Date.now */
  clock?: () => number
}

type RoomLog = {
  entries: HistoryEntry[]
  start: number
  last: number
  bytes: number
  sizes: number[]
  limits: ResolvedLimits
}

/** Below this many dead slots at the front the array is left alone; past it, and half, it is compacted. */
const COMPACT_AFTER = 1024

export class MemoryHistoryStore implements HistoryStore {
  readonly kind = 'memory'
  /** One incarnation per store: a restarted process starts a new epoch. */
  readonly epoch = randomBytes(8).toString('hex')
  readonly #limits: RoomLimits
  readonly #clock: () => number
  readonly #rooms = new Map<string, RoomLog>()
  #closed = false

  constructor(options: MemoryHistoryOptions = {}) {
    this.#limits = new RoomLimits(options, options.rooms)
    this.#clock = options.clock ?? Date.now
  }

  async append(room: string, name: string, data: Uint8Array): Promise<HistoryPosition> {
    return this.appendNow(room, name, data)
  }

  /** append() without the promise: the position at once (the server's memory fast path). */
  appendNow(room: string, name: string, data: Uint8Array): HistoryPosition {
    if (this.#closed) throw new ClosedError(ErrorCodes.CLOSED, 'history store is closed')
    let log = this.#rooms.get(room)
    if (log === undefined) {
      log = { entries: [], start: 0, last: 0, bytes: 0, sizes: [], limits: this.#limits.store(room) }
      this.#rooms.set(room, log)
    }
    const offset = ++log.last
    const size = entrySize(name, data)
    log.entries.push({ offset, name, data, time: this.#clock() })
    log.sizes.push(size)
    log.bytes += size
    this.#trim(log)
    return { offset, epoch: this.epoch }
  }

  async read(room: string, options: HistoryReadOptions = {}): Promise<HistoryPage> {
    if (this.#closed) throw new ClosedError(ErrorCodes.CLOSED, 'history store is closed')
    const limit = resolveReadLimit(options.limit)
    const log = this.#rooms.get(room)
    if (log !== undefined) this.#trim(log)
    const state = this.#state(log)
    const plan = planRead(room, options.after, state, limit)
    const entries: HistoryEntry[] = []
    if (log !== undefined && plan.from <= plan.to) {
      const base = log.start - state.first // index of offset o is base + o
      for (let o = plan.from; o <= plan.to; o++) entries.push(log.entries[base + o]!)
    }
    const page: HistoryPage = { entries, head: { offset: state.last, epoch: this.epoch }, first: state.first }
    if (plan.gap !== undefined) page.gap = plan.gap
    return page
  }

  async head(room: string): Promise<HistoryPosition> {
    return { offset: this.#rooms.get(room)?.last ?? 0, epoch: this.epoch }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#rooms.clear()
  }

  #state(log: RoomLog | undefined): LogState {
    if (log === undefined) return { epoch: this.epoch, first: 1, last: 0 }
    const oldest = log.entries[log.start]
    return { epoch: this.epoch, first: oldest?.offset ?? log.last + 1, last: log.last }
  }

  #trim(log: RoomLog): void {
    const now = this.#clock()
    while (log.start < log.entries.length) {
      const count = log.entries.length - log.start
      if (!mustTrim(log.limits, count, log.bytes, log.entries[log.start]!.time, now)) break
      log.bytes -= log.sizes[log.start]!
      log.start++
    }
    if (log.start > COMPACT_AFTER && log.start * 2 > log.entries.length) {
      log.entries = log.entries.slice(log.start)
      log.sizes = log.sizes.slice(log.start)
      log.start = 0
    }
  }
}
