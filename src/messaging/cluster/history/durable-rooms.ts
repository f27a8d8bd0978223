// Durable rooms on one node: picks the store from the `history` option, appends publications to the
// room's log, fans each appended entry out to this node's subscriptions, and runs every subscription's
// RecoveryCursor (reads from the log until it has caught up, retrying a failed read with backoff).
// Transport-agnostic: a subscription delivers CursorEvents to a callback; the server turns them into frames.

import type { Redis } from 'ioredis'
import { InvalidArgumentError } from '../../../errors.ts'
import { RoomLimits, type RoomPatterns } from './limits.ts'
import { MemoryHistoryStore, type MemoryTotalLimits } from './memory-store.ts'
import { type CursorEvent, type LiveEntry, RecoveryCursor } from './recovery-cursor.ts'
import { RedisHistoryStore } from './redis-store.ts'
import { SqliteHistoryStore } from './sqlite-store.ts'
import type {
  HistoryEntry,
  HistoryLimits,
  HistoryPosition,
  HistoryRoomLimits,
  HistoryStore,
} from './types.ts'

/**
 * The `history` option of a MessageServer: where room logs live and how much they keep.
 * @example { store: 'sqlite', path: './wirekit-history.sqlite', maxMessages: 10_000, rooms: { 'typing:*': false } }
 */
export type HistoryOptions = HistoryLimits &
  MemoryTotalLimits & {
    /**
     * 'memory' (this process; lost on restart: a new epoch), 'sqlite' (a file at `path`; survives restarts),
     * 'redis' (Streams on `redis`; shared by every node), or a store of your own. @default 'sqlite' with a path, else 'memory'
     */
    store?: 'memory' | 'sqlite' | 'redis' | HistoryStore
    /** The SQLite file. */
    path?: string
    /** Redis for store 'redis': a URL or an ioredis client. */
    redis?: string | Redis
    /** Key prefix for store 'redis'. @default 'wirekit' */
    prefix?: string
    /** Limits per room pattern (`*` any run of characters, first match wins); `false`: the rooms are not durable. */
    rooms?: RoomPatterns
  }

/** A subscriber's live-plus-recovery feed of one room. */
export type RoomFeed = {
  readonly room: string
  /** The last position delivered. */
  readonly position: HistoryPosition | undefined
  close(): void
}

const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 5_000
/** A replay paused for its receiver (no budget) looks again after this long. */
const BUDGET_WAIT_MS = 10

/** Makes the store an options object names. */
export function createHistoryStore(options: HistoryOptions): HistoryStore {
  const store = options.store ?? (options.path !== undefined ? 'sqlite' : 'memory')
  const rooms = Object.fromEntries(
    Object.entries(options.rooms ?? {}).filter((e): e is [string, HistoryLimits] => e[1] !== false),
  ) as HistoryRoomLimits
  const limits = {
    maxMessages: options.maxMessages,
    maxAge: options.maxAge,
    maxBytes: options.maxBytes,
    rooms,
  }
  if (typeof store === 'object' && store !== null) return store
  if (store === 'memory')
    return new MemoryHistoryStore({
      ...limits,
      maxTotalBytes: options.maxTotalBytes,
      maxRooms: options.maxRooms,
    })
  if (store === 'sqlite') {
    if (options.path === undefined) throw new InvalidArgumentError("history: store 'sqlite' needs a path")
    return new SqliteHistoryStore({ ...limits, path: options.path })
  }
  if (store === 'redis') {
    if (options.redis === undefined) throw new InvalidArgumentError("history: store 'redis' needs redis")
    return new RedisHistoryStore({ ...limits, redis: options.redis, prefix: options.prefix })
  }
  throw new InvalidArgumentError(`history: unknown store ${String(store)}`)
}

/**
 * What a feed hands its events to: a function, or an object that also takes an in-order live entry
 * as is (`entry`), without an event object per subscriber per publication (the fan-out's hot path).
 */
export type FeedReceiver =
  | ((event: CursorEvent) => void)
  | { event(event: CursorEvent): void; entry(entry: HistoryEntry, epoch: string): void }

type Feed = {
  room: string
  cursor: RecoveryCursor
  deliver: (event: CursorEvent) => void
  entry: ((entry: HistoryEntry, epoch: string) => void) | undefined
  closed: boolean
  pumping: boolean
  budget: () => number
  retryMs: number
  timer: NodeJS.Timeout | undefined
}

export class DurableRooms {
  readonly store: HistoryStore
  readonly #limits: RoomLimits
  readonly #feeds = new Map<string, Set<Feed>>()
  readonly #onError: (error: unknown, room: string) => void
  #unwatch: (() => void) | undefined

  constructor(options: HistoryOptions, onError: (error: unknown, room: string) => void = () => {}) {
    this.#limits = new RoomLimits(options, options.rooms)
    this.store = createHistoryStore(options)
    this.#onError = onError
  }

  /** Feeds of `room` look at the log (an append elsewhere, or everything after a notifier outage). */
  #hint(room: string | undefined, position?: HistoryPosition): void {
    const lists = room === undefined ? [...this.#feeds.values()] : [this.#feeds.get(room) ?? []]
    for (const feeds of lists) {
      for (const feed of feeds) {
        feed.cursor.hint(position)
        this.#pump(feed)
      }
    }
  }

  /** True when the room keeps a log (no pattern maps it to false). */
  isDurable(room: string): boolean {
    return this.#limits.for(room) !== false
  }

  /** Appends, then delivers to this node's subscribers of the room; resolves with the position. */
  publish(room: string, name: string, data: Uint8Array): Promise<HistoryPosition> {
    const store = this.store
    // The memory store appends synchronously: fan out in the same turn, no promise in between.
    if (store instanceof MemoryHistoryStore) {
      try {
        const position = store.appendNow(room, name, data)
        this.deliverLive(room, { ...position, name, data, time: Date.now() })
        return Promise.resolve(position)
      } catch (error) {
        return Promise.reject(error)
      }
    }
    return store.append(room, name, data).then((position) => {
      this.deliverLive(room, { offset: position.offset, epoch: position.epoch, name, data, time: Date.now() })
      return position
    })
  }

  /** An entry appended elsewhere (another node, through the adapter) reaches this node's subscribers. */
  deliverLive(room: string, entry: LiveEntry): void {
    const feeds = this.#feeds.get(room)
    if (feeds === undefined) return
    for (const feed of feeds) {
      if (feed.entry !== undefined && feed.cursor.follows(entry)) {
        try {
          feed.entry(entry, entry.epoch)
        } catch (error) {
          this.#onError(error, feed.room)
        }
        continue
      }
      this.#emit(feed, feed.cursor.live(entry))
      this.#pump(feed)
    }
  }

  /**
   * Starts a feed: live from now, or from `since` (replayed from the log first, then live). `budget` says
   * how many more entries the receiver can take now: a replay reads at most that many per page and waits
   * while it is below 1 (a subscriber that missed more than its connection buffers is fed as it acknowledges,
   * not cut as a slow consumer). Live entries are not held back.
   */
  subscribe(
    room: string,
    since: HistoryPosition | undefined,
    receiver: FeedReceiver,
    budget: () => number = () => Number.POSITIVE_INFINITY,
  ): RoomFeed {
    const feed: Feed = {
      room,
      cursor: new RecoveryCursor(room, since),
      deliver: typeof receiver === 'function' ? receiver : (event) => receiver.event(event),
      entry: typeof receiver === 'function' ? undefined : (entry, epoch) => receiver.entry(entry, epoch),
      closed: false,
      pumping: false,
      budget,
      retryMs: RETRY_MIN_MS,
      timer: undefined,
    }
    // A shared store (Redis) announces other nodes' appends; watched from the first subscriber on.
    this.#unwatch ??= this.store.watch?.({
      appended: (r, position) => this.#hint(r, position),
      resync: () => this.#hint(undefined),
    })
    let feeds = this.#feeds.get(room)
    if (feeds === undefined) this.#feeds.set(room, (feeds = new Set()))
    feeds.add(feed)
    this.#pump(feed)
    return {
      room,
      get position() {
        return feed.cursor.position
      },
      close: () => this.#close(feed),
    }
  }

  async close(): Promise<void> {
    this.#unwatch?.()
    for (const feeds of this.#feeds.values()) for (const feed of feeds) this.#close(feed)
    await this.store.close()
  }

  #close(feed: Feed): void {
    feed.closed = true
    clearTimeout(feed.timer)
    const feeds = this.#feeds.get(feed.room)
    feeds?.delete(feed)
    if (feeds?.size === 0) this.#feeds.delete(feed.room)
  }

  #emit(feed: Feed, events: CursorEvent[]): void {
    for (const event of events) {
      if (feed.closed) return
      try {
        feed.deliver(event)
      } catch (error) {
        this.#onError(error, feed.room)
      }
    }
  }

  /** Reads from the log while the cursor asks for it; one loop per feed at a time. */
  #pump(feed: Feed): void {
    if (feed.pumping || feed.closed || !feed.cursor.wantsRead) return
    feed.pumping = true
    void (async () => {
      try {
        while (!feed.closed && feed.cursor.wantsRead) {
          const budget = Math.floor(feed.budget())
          if (budget < 1) {
            clearTimeout(feed.timer)
            feed.timer = setTimeout(() => this.#pump(feed), BUDGET_WAIT_MS)
            return
          }
          const read = feed.cursor.nextRead()
          if (read === undefined) break
          read.limit = Math.min(read.limit ?? budget, budget)
          let page: Awaited<ReturnType<HistoryStore['read']>>
          try {
            page = await this.store.read(feed.room, read)
          } catch (error) {
            feed.cursor.readFailed()
            this.#onError(error, feed.room)
            feed.timer = setTimeout(() => this.#pump(feed), feed.retryMs)
            feed.retryMs = Math.min(feed.retryMs * 2, RETRY_MAX_MS)
            return
          }
          feed.retryMs = RETRY_MIN_MS
          if (!feed.closed) this.#emit(feed, feed.cursor.page(page))
        }
      } finally {
        feed.pumping = false
      }
    })()
  }
}
