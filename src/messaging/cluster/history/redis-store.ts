// The Redis Streams history store: one stream per room (XADD with explicit ids `<offset>-0`, trimmed by
// MINID under the limits), the room's epoch and counters in a hash beside it. Every node reading the
// same Redis sees the same offsets; a Redis that lost its data shows up as a new epoch, never as
// offsets that quietly mean something else. Appends to one room in one event-loop turn go as one script call.

import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { ClosedError, ErrorCodes, InvalidArgumentError, MessagingError } from '../../../errors.ts'
import { entrySize, RoomLimits, resolveReadLimit } from './limits.ts'
import { planRead } from './read-window.ts'
import { defineHistoryScripts, type HistoryRedis, roomKeys } from './redis-scripts.ts'
import type {
  HistoryEntry,
  HistoryLimits,
  HistoryPage,
  HistoryPosition,
  HistoryReadOptions,
  HistoryRoomLimits,
  HistoryStore,
  HistoryWatcher,
} from './types.ts'

export type RedisHistoryOptions = HistoryLimits & {
  /**
   * Where Redis is: a URL, or an ioredis client (used as it is and never closed by the store).
   * @example new RedisHistoryStore({ redis: 'redis://127.0.0.1:6379' })
   */
  redis: string | Redis
  /** Other limits for rooms matching a pattern. @example { 'audit:*': { maxMessages: 100_000 } } */
  rooms?: HistoryRoomLimits
  /** Prefix of every key. @default 'wirekit' */
  prefix?: string
  /** Publish a notice per append so every node's subscribers read it (see `watch`). @default true */
  notify?: boolean
  /** The clock entries are stamped with and aged by (ms); nodes should agree on it. @default Date.now */
  clock?: () => number
}

/** Entries of one room sent in one script call at most (the rest go in the next call, in order). */
const MAX_CALL = 512

type Pending = {
  name: string
  data: Uint8Array
  resolve: (p: HistoryPosition) => void
  reject: (e: Error) => void
}
type RawEntry = [id: Buffer, fields: Buffer[]]

function failed(what: string, cause: unknown): MessagingError {
  const why = cause instanceof Error ? cause.message : String(cause)
  return new MessagingError(ErrorCodes.HISTORY_FAILED, `history: ${what} failed: ${why}`, { cause })
}

const limitArg = (n: number): number => (n === Number.POSITIVE_INFINITY ? -1 : n)

export class RedisHistoryStore implements HistoryStore {
  readonly kind = 'redis'
  readonly #redis: HistoryRedis
  readonly #owned: boolean
  readonly #prefix: string
  readonly #limits: RoomLimits
  readonly #clock: () => number
  #pending = new Map<string, Pending[]>()
  #scheduled = false
  #inflight = new Set<Promise<void>>()
  #closed = false
  readonly #channel: string
  #subscriber: Redis | undefined
  readonly #watchers = new Set<HistoryWatcher>()
  /** Names this store in its notices, so it can tell its own appends from other nodes'. */
  readonly #origin = randomBytes(6).toString('hex')

  constructor(options: RedisHistoryOptions) {
    this.#limits = new RoomLimits(options, options.rooms)
    this.#clock = options.clock ?? Date.now
    this.#prefix = options.prefix ?? 'wirekit'
    if (typeof this.#prefix !== 'string' || this.#prefix === '' || /[{}]/.test(this.#prefix)) {
      throw new InvalidArgumentError(
        `history: prefix must be a non-empty string without braces, got ${String(this.#prefix)}`,
      )
    }
    if (typeof options.redis === 'string') {
      this.#redis = defineHistoryScripts(new Redis(options.redis, { maxRetriesPerRequest: 2 }))
      this.#owned = true
    } else if (options.redis instanceof Redis) {
      this.#redis = defineHistoryScripts(options.redis)
      this.#owned = false
    } else {
      throw new InvalidArgumentError('history: redis must be a URL or an ioredis client')
    }
    // ioredis reconnects by itself; failures reach the callers of append/read as WK_HISTORY_FAILED.
    if (this.#owned) this.#redis.on('error', () => {})
    this.#channel = options.notify === false ? '' : `${this.#prefix}:h:notice`
  }

  /**
   * Watches appends from every process on this Redis (one subscriber connection, opened on first use).
   * Notices are hints, not the data: a reader reads the log, so a lost notice costs latency, never a
   * message; after the subscriber reconnects every watcher is told to resync.
   */
  watch(watcher: HistoryWatcher): () => void {
    if (this.#channel === '') return () => {}
    this.#watchers.add(watcher)
    if (this.#subscriber === undefined) {
      const subscriber = this.#redis.duplicate()
      this.#subscriber = subscriber
      subscriber.on('error', () => {})
      let readyBefore = false
      subscriber.on('ready', () => {
        if (readyBefore) for (const w of this.#watchers) w.resync()
        readyBefore = true
      })
      subscriber.on('message', (_channel: string, text: string) => this.#notice(text))
      // Appends made before the subscription took effect had no listener here: look once it has.
      subscriber.subscribe(this.#channel).then(
        () => {
          for (const w of this.#watchers) w.resync()
        },
        () => {},
      )
    }
    return () => this.#watchers.delete(watcher)
  }

  #notice(text: string): void {
    const a = text.indexOf(' ')
    const b = text.indexOf(' ', a + 1)
    const c = text.indexOf(' ', b + 1)
    if (a < 1 || b < 0 || c < 0) return
    // Our own append: its one watcher (the usual case: one server per store) delivers it when the append
    // resolves. The notice often arrives first (another connection), and would send every subscriber of
    // the room to read from Redis what is about to be handed to them: a read per subscriber per batch.
    if (this.#watchers.size === 1 && text.slice(b + 1, c) === this.#origin) return
    const offset = Number(text.slice(a + 1, b))
    if (!Number.isSafeInteger(offset)) return
    const position = { offset, epoch: text.slice(0, a) }
    const room = text.slice(c + 1)
    for (const watcher of this.#watchers) watcher.appended(room, position)
  }

  append(room: string, name: string, data: Uint8Array): Promise<HistoryPosition> {
    if (this.#closed) return Promise.reject(new ClosedError(ErrorCodes.CLOSED, 'history store is closed'))
    return new Promise((resolve, reject) => {
      let list = this.#pending.get(room)
      if (list === undefined) this.#pending.set(room, (list = []))
      list.push({ name, data, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.#flush())
      }
    })
  }

  async read(room: string, options: HistoryReadOptions = {}): Promise<HistoryPage> {
    if (this.#closed) throw new ClosedError(ErrorCodes.CLOSED, 'history store is closed')
    const limit = resolveReadLimit(options.limit)
    const after = options.after
    let raw = await this.#read(room, (after?.offset ?? 0) + 1, limit)
    const plan = planRead(room, after, raw.log, limit)
    // Another epoch (or a position beyond the head): read again from the oldest kept.
    if (plan.from !== Math.max((after?.offset ?? 0) + 1, raw.log.first))
      raw = await this.#read(room, plan.from, limit)
    const page: HistoryPage = {
      entries: raw.entries,
      head: { offset: raw.log.last, epoch: raw.log.epoch },
      first: raw.log.first,
    }
    if (plan.gap !== undefined) page.gap = plan.gap
    return page
  }

  async head(room: string): Promise<HistoryPosition> {
    if (this.#closed) throw new ClosedError(ErrorCodes.CLOSED, 'history store is closed')
    try {
      // An empty room's epoch is made now, not at its first append: a subscriber starting here must
      // stand in a log that a Redis losing its data ends, or the loss of what it had not seen is silent.
      const [epoch, last] = (await this.#redis.wkHistoryHead(
        ...roomKeys(this.#prefix, room),
        randomBytes(8).toString('hex'),
      )) as [string, string]
      return { offset: Number(last), epoch }
    } catch (error) {
      throw failed(`head of ${room}`, error)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#flush()
    this.#closed = true
    await Promise.allSettled(this.#inflight)
    this.#watchers.clear()
    this.#subscriber?.disconnect()
    if (this.#owned) await this.#redis.quit().catch(() => this.#redis.disconnect())
  }

  async #read(room: string, from: number, limit: number) {
    const now = this.#clock()
    const { maxMessages, maxAge, maxBytes } = this.#limits.store(room)
    let reply: [Buffer, number, number, RawEntry[]]
    try {
      reply = (await this.#redis.wkHistoryReadBuffer(
        ...roomKeys(this.#prefix, room),
        now,
        limitArg(maxMessages),
        limitArg(maxAge),
        limitArg(maxBytes),
        from,
        limit,
        randomBytes(8).toString('hex'),
      )) as typeof reply
    } catch (error) {
      throw failed(`reading ${room}`, error)
    }
    const [epoch, last, first, raw] = reply
    const entries: HistoryEntry[] = raw.map(([id, f]) => ({
      offset: Number.parseInt(id.toString('latin1'), 10),
      time: Number(f[1]!.toString('latin1')),
      name: f[3]!.toString('utf8'),
      data: f[5]!,
    }))
    return { log: { epoch: epoch.toString('latin1'), first: Number(first), last: Number(last) }, entries }
  }

  /** Sends each room's pending appends, in order, one script call per MAX_CALL entries. */
  #flush(): void {
    this.#scheduled = false
    const pending = this.#pending
    if (pending.size === 0) return
    this.#pending = new Map()
    for (const [room, list] of pending) {
      const { maxMessages, maxAge, maxBytes } = this.#limits.store(room)
      for (let i = 0; i < list.length; i += MAX_CALL) {
        const batch = list.slice(i, i + MAX_CALL)
        const args: (string | Buffer | number)[] = [
          ...roomKeys(this.#prefix, room),
          randomBytes(8).toString('hex'),
          this.#clock(),
          limitArg(maxMessages),
          limitArg(maxAge),
          limitArg(maxBytes),
          this.#channel,
          room,
          this.#origin,
        ]
        for (const p of batch) {
          const data = Buffer.isBuffer(p.data)
            ? p.data
            : Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)
          args.push(p.name, data, entrySize(p.name, p.data))
        }
        // ioredis writes calls in the order they are made, so a room's batches stay in order.
        const call = (this.#redis.wkHistoryAppend(...args) as Promise<[string, number]>).then(
          ([epoch, first]) => {
            for (let k = 0; k < batch.length; k++) batch[k]!.resolve({ offset: Number(first) + k, epoch })
          },
          (error: unknown) => {
            const err = failed(`append to ${room}`, error)
            for (const p of batch) p.reject(err)
          },
        )
        this.#inflight.add(call)
        void call.finally(() => this.#inflight.delete(call))
      }
    }
  }
}
