// The memory history store: each room's log is an array in this process. Fast, bounded by the limits
// of each room and by a total across rooms (so a client that names many rooms cannot grow the process
// without end), gone when the process ends (a new store is a new epoch, so a returning subscriber is told).

import { randomBytes } from 'node:crypto'
import { ClosedError, ErrorCodes, InvalidArgumentError } from '../../../errors.ts'
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
} & MemoryTotalLimits

/**
 * What the memory store keeps across all rooms. Past either limit the least recently appended rooms
 * lose their oldest entries first (a recovering subscriber gets a 'trimmed' gap, as for the per-room
 * limits), and a room left with nothing is forgotten (its next log is a new epoch: an 'epoch' gap).
 */
export type MemoryTotalLimits = {
  /**
   * Bytes across all rooms: each entry's payload and name, plus a fixed estimate of what the process
   * spends on an entry (128 bytes) and on a room (512 bytes). @default 256 MiB
   */
  maxTotalBytes?: number
  /** Rooms with a log at once. @default 100_000 */
  maxRooms?: number
}

/** The process's own cost of an entry (entry object, array slots, byte view) and of a room, estimated. */
export const ENTRY_OVERHEAD = 128
export const ROOM_OVERHEAD = 512
export const DEFAULT_MAX_TOTAL_BYTES = 256 * 1024 * 1024
export const DEFAULT_MAX_ROOMS = 100_000

type RoomLog = {
  /** This incarnation of the room's log: the store's epoch, or a new one after the room was forgotten. */
  epoch: string
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
  /** Rooms in the order of their last append, least recent first (the eviction order). */
  readonly #rooms = new Map<string, RoomLog>()
  #lastRoom: RoomLog | undefined
  readonly #maxTotalBytes: number
  readonly #maxRooms: number
  /** What the rooms hold, overheads included (see MemoryTotalLimits). */
  #total = 0
  /** Rooms forgotten so far: names the epoch of a room's next log. */
  #forgotten = 0
  #closed = false

  constructor(options: MemoryHistoryOptions = {}) {
    this.#limits = new RoomLimits(options, options.rooms)
    this.#clock = options.clock ?? Date.now
    this.#maxTotalBytes = totalLimit('maxTotalBytes', options.maxTotalBytes, DEFAULT_MAX_TOTAL_BYTES)
    this.#maxRooms = totalLimit('maxRooms', options.maxRooms, DEFAULT_MAX_ROOMS)
  }

  /** Rooms with a log and the bytes they count for against maxTotalBytes. */
  get usage(): { rooms: number; bytes: number } {
    return { rooms: this.#rooms.size, bytes: this.#total }
  }

  async append(room: string, name: string, data: Uint8Array): Promise<HistoryPosition> {
    return this.appendNow(room, name, data)
  }

  /** append() without the promise: the position at once (the server's memory fast path). */
  appendNow(room: string, name: string, data: Uint8Array): HistoryPosition {
    if (this.#closed) throw new ClosedError(ErrorCodes.CLOSED, 'history store is closed')
    let log = this.#rooms.get(room)
    if (log === undefined) {
      log = {
        epoch: this.#nextEpoch(),
        entries: [],
        start: 0,
        last: 0,
        bytes: 0,
        sizes: [],
        limits: this.#limits.store(room),
      }
      this.#rooms.set(room, log)
      this.#total += ROOM_OVERHEAD
    } else if (log !== this.#lastRoom) {
      // Most recently appended last: the Map's order is the eviction order.
      this.#rooms.delete(room)
      this.#rooms.set(room, log)
    }
    this.#lastRoom = log
    const offset = ++log.last
    const size = entrySize(name, data)
    log.entries.push({ offset, name, data, time: this.#clock() })
    log.sizes.push(size)
    log.bytes += size
    this.#total += size + ENTRY_OVERHEAD
    this.#trim(log)
    if (this.#total > this.#maxTotalBytes || this.#rooms.size > this.#maxRooms) this.#evict(log)
    return { offset, epoch: log.epoch }
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
    const page: HistoryPage = {
      entries,
      head: { offset: state.last, epoch: state.epoch },
      first: state.first,
    }
    if (plan.gap !== undefined) page.gap = plan.gap
    return page
  }

  async head(room: string): Promise<HistoryPosition> {
    const log = this.#rooms.get(room)
    return { offset: log?.last ?? 0, epoch: log?.epoch ?? this.#nextEpoch() }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#rooms.clear()
    this.#lastRoom = undefined
    this.#total = 0
  }

  /** The epoch of a room log created now: the store's, then a new one for every room forgotten. */
  #nextEpoch(): string {
    return this.#forgotten === 0 ? this.epoch : `${this.epoch}.${this.#forgotten}`
  }

  #state(log: RoomLog | undefined): LogState {
    if (log === undefined) return { epoch: this.#nextEpoch(), first: 1, last: 0 }
    const oldest = log.entries[log.start]
    return { epoch: log.epoch, first: oldest?.offset ?? log.last + 1, last: log.last }
  }

  /** Drops the room's oldest entry. */
  #dropOldest(log: RoomLog): void {
    const size = log.sizes[log.start]!
    log.bytes -= size
    this.#total -= size + ENTRY_OVERHEAD
    log.entries[log.start] = undefined as unknown as HistoryEntry // let the payload go now
    log.start++
  }

  #trim(log: RoomLog): void {
    const now = this.#clock()
    while (log.start < log.entries.length) {
      const count = log.entries.length - log.start
      if (!mustTrim(log.limits, count, log.bytes, log.entries[log.start]!.time, now)) break
      this.#dropOldest(log)
    }
    this.#compact(log)
  }

  #compact(log: RoomLog): void {
    if (log.start === log.entries.length && log.start > 0) {
      log.entries = []
      log.sizes = []
      log.start = 0
    } else if (log.start > COMPACT_AFTER && log.start * 2 > log.entries.length) {
      log.entries = log.entries.slice(log.start)
      log.sizes = log.sizes.slice(log.start)
      log.start = 0
    }
  }

  #over(): boolean {
    return this.#total > this.#maxTotalBytes || this.#rooms.size > this.#maxRooms
  }

  /**
   * Back under the totals: the least recently appended rooms give up their oldest entries, and a room
   * left empty is forgotten while there are too many rooms or bytes. `current` (just appended to) goes
   * last and keeps at least its newest entry.
   */
  #evict(current: RoomLog): void {
    for (const [room, log] of this.#rooms) {
      if (!this.#over()) return
      if (log === current) continue
      // Too many rooms: this one goes whole. Too many bytes: its oldest entries, then its record.
      const forget = this.#rooms.size > this.#maxRooms
      while (log.start < log.entries.length && (forget || this.#total > this.#maxTotalBytes))
        this.#dropOldest(log)
      this.#compact(log)
      if (log.start === log.entries.length && (forget || this.#total > this.#maxTotalBytes)) {
        this.#rooms.delete(room)
        this.#total -= ROOM_OVERHEAD
        this.#forgotten++
      }
    }
    while (this.#total > this.#maxTotalBytes && current.entries.length - current.start > 1)
      this.#dropOldest(current)
    this.#compact(current)
  }
}

function totalLimit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (value === Number.POSITIVE_INFINITY) return value
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(
      `history: ${name} must be a positive integer or Infinity, got ${String(value)}`,
    )
  }
  return value
}
