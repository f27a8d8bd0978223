// The SQLite history store (node:sqlite): the embedded default for durable rooms. WAL journal, appends
// batched into one transaction per event-loop turn through prepared statements; an append resolves
// after its transaction commits, so an acknowledged entry survives a crash of the process. The epoch
// is written once when the file is created: a restart keeps it, a new file gets a new one.

import { randomBytes } from 'node:crypto'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { ClosedError, ErrorCodes, InvalidArgumentError, MessagingError } from '../../../errors.ts'
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

export type SqliteHistoryOptions = HistoryLimits & {
  /** Other limits for rooms matching a pattern. @example { 'audit:*': { maxMessages: 100_000 } } */
  rooms?: HistoryRoomLimits
  /** The database file (created if absent). One store per file: a second opener is refused. */
  path: string
  /**
   * 'normal' survives a crash of the process (kill -9); 'full' also a crash of the machine or a power
   * loss, at the cost of an fsync per batch. @default 'normal'
   */
  synchronous?: 'normal' | 'full'
  /** The clock entries are stamped with and aged by (ms). @default Date.now */
  clock?: () => number
}

const SCHEMA_VERSION = '1'
/** A batch is written at the end of the event-loop turn, or at once when it reaches this size. */
const MAX_BATCH = 8192
/**
 * Rooms whose state (counters, limits) is kept in memory. Past it, states with nothing waiting to be
 * written are dropped and read back from the file when used again: a client naming room after room
 * (subscribe, publish) cannot grow the process.
 */
const MAX_CACHED_ROOMS = 10_000
/** Rows per multi-row INSERT: one call into SQLite for many rows (the single-row statement does the rest). */
const ROWS_PER_INSERT = 32

type RoomRow = { id: number; first: number; last: number; bytes: number }
/** `last` counts offsets handed out (some may be waiting in the batch); `row` is what is committed. */
type RoomState = { name: string; last: number; row: RoomRow | undefined; limits: ResolvedLimits }
type Pending = {
  room: RoomState
  offset: number
  name: string
  data: Uint8Array
  time: number
  resolve: (position: HistoryPosition) => void
  reject: (error: Error) => void
}

function failed(what: string, cause: unknown): MessagingError {
  const why = cause instanceof Error ? cause.message : String(cause)
  return new MessagingError(ErrorCodes.HISTORY_FAILED, `history: ${what} failed: ${why}`, { cause })
}

export class SqliteHistoryStore implements HistoryStore {
  readonly kind = 'sqlite'
  readonly epoch: string
  readonly path: string
  readonly #limits: RoomLimits
  readonly #clock: () => number
  readonly #db: DatabaseSync
  readonly #rooms = new Map<string, RoomState>()
  readonly #sql: Record<
    | 'roomByName'
    | 'insertRoom'
    | 'updateRoom'
    | 'insertMessage'
    | 'insertMessages'
    | 'deleteBefore'
    | 'oldest'
    | 'range'
    | 'read',
    StatementSync
  >
  #pending: Pending[] = []
  #scheduled = false
  #closed = false

  constructor(options: SqliteHistoryOptions) {
    if (typeof options?.path !== 'string' || options.path === '') {
      throw new InvalidArgumentError('history: the sqlite store needs a path')
    }
    this.#limits = new RoomLimits(options, options.rooms)
    this.#clock = options.clock ?? Date.now
    this.path = options.path
    const synchronous = options.synchronous ?? 'normal'
    if (synchronous !== 'normal' && synchronous !== 'full') {
      throw new InvalidArgumentError(
        `history: synchronous must be 'normal' or 'full', got ${String(synchronous)}`,
      )
    }
    try {
      this.#db = new DatabaseSync(options.path)
    } catch (error) {
      throw failed(`opening ${options.path}`, error)
    }
    try {
      // Exclusive locking: this process alone writes the file (offsets are counted here), and a second
      // store on the same file fails now instead of corrupting the numbering later.
      this.#db.exec(`PRAGMA busy_timeout = 200; PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL;
        PRAGMA synchronous = ${synchronous.toUpperCase()};`)
      this.#db.exec(`BEGIN IMMEDIATE;
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS rooms (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
          first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, bytes INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS messages (room INTEGER NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,
          size INTEGER NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (room, seq)) WITHOUT ROWID;`)
      const insertMeta = this.#db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)')
      insertMeta.run('version', SCHEMA_VERSION)
      insertMeta.run('epoch', randomBytes(8).toString('hex'))
      const meta = this.#db.prepare('SELECT value FROM meta WHERE key = ?')
      const version = (meta.get('version') as { value: string }).value
      if (version !== SCHEMA_VERSION) throw new Error(`unknown history file version ${version}`)
      this.epoch = (meta.get('epoch') as { value: string }).value
      this.#db.exec('COMMIT')
    } catch (error) {
      this.#db.close()
      throw failed(`opening ${options.path}`, error)
    }
    const db = this.#db
    this.#sql = {
      roomByName: db.prepare(
        'SELECT id, first_seq AS first, last_seq AS last, bytes FROM rooms WHERE name = ?',
      ),
      insertRoom: db.prepare(
        'INSERT INTO rooms (name, first_seq, last_seq, bytes) VALUES (?, 1, 0, 0) RETURNING id',
      ),
      updateRoom: db.prepare('UPDATE rooms SET first_seq = ?, last_seq = ?, bytes = ? WHERE id = ?'),
      insertMessage: db.prepare(
        'INSERT INTO messages (room, seq, time, size, name, data) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      insertMessages: db.prepare(
        `INSERT INTO messages (room, seq, time, size, name, data) VALUES ${Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`,
      ),
      deleteBefore: db.prepare('DELETE FROM messages WHERE room = ? AND seq < ?'),
      oldest: db.prepare('SELECT time FROM messages WHERE room = ? AND seq = ?'),
      range: db.prepare('SELECT seq, time, size FROM messages WHERE room = ? AND seq >= ? ORDER BY seq'),
      read: db.prepare(
        'SELECT seq, time, name, data FROM messages WHERE room = ? AND seq BETWEEN ? AND ? ORDER BY seq',
      ),
    }
  }

  append(room: string, name: string, data: Uint8Array): Promise<HistoryPosition> {
    if (this.#closed) return Promise.reject(new ClosedError(ErrorCodes.CLOSED, 'history store is closed'))
    const state = this.#room(room)
    return new Promise((resolve, reject) => {
      this.#pending.push({
        room: state,
        offset: ++state.last,
        name,
        data,
        time: this.#clock(),
        resolve,
        reject,
      })
      if (this.#pending.length >= MAX_BATCH) this.#flush()
      else if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.#flush())
      }
    })
  }

  async read(room: string, options: HistoryReadOptions = {}): Promise<HistoryPage> {
    if (this.#closed) throw new ClosedError(ErrorCodes.CLOSED, 'history store is closed')
    const limit = resolveReadLimit(options.limit)
    const state = this.#room(room)
    let log: LogState
    try {
      if (state.row !== undefined) {
        this.#db.exec('BEGIN')
        try {
          if (this.#trim(state.row, state.limits)) {
            this.#sql.updateRoom.run(state.row.first, state.row.last, state.row.bytes, state.row.id)
          }
          this.#db.exec('COMMIT')
        } catch (error) {
          this.#db.exec('ROLLBACK')
          throw error
        }
      }
      log = this.#state(state)
    } catch (error) {
      throw failed(`reading ${room}`, error)
    }
    const plan = planRead(room, options.after, log, limit)
    const entries: HistoryEntry[] = []
    if (state.row !== undefined && plan.from <= plan.to) {
      // all() over iterate(): one call into SQLite for the page instead of one per row (4× faster at 10k).
      const rows = this.#sql.read.all(state.row.id, plan.from, plan.to) as {
        seq: number
        time: number
        name: string
        data: Uint8Array
      }[]
      for (const r of rows) entries.push({ offset: r.seq, name: r.name, data: r.data, time: r.time })
    }
    const page: HistoryPage = { entries, head: { offset: log.last, epoch: this.epoch }, first: log.first }
    if (plan.gap !== undefined) page.gap = plan.gap
    return page
  }

  async head(room: string): Promise<HistoryPosition> {
    return { offset: this.#room(room).row?.last ?? 0, epoch: this.epoch }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#flush()
    this.#closed = true
    this.#db.close()
  }

  /** The room's state, loaded from the file on first use (no row is written until an append). */
  #room(name: string): RoomState {
    let state = this.#rooms.get(name)
    if (state === undefined) {
      if (this.#rooms.size >= MAX_CACHED_ROOMS) this.#forgetIdleRooms()
      const row = this.#sql.roomByName.get(name) as RoomRow | undefined
      state = {
        name,
        last: row?.last ?? 0,
        row: row === undefined ? undefined : { ...row },
        limits: this.#limits.store(name),
      }
      this.#rooms.set(name, state)
    }
    return state
  }

  /** Drops the cached state of every room with no append waiting in the batch (the file has the rest). */
  #forgetIdleRooms(): void {
    for (const [name, state] of this.#rooms) {
      if (state.last === (state.row?.last ?? 0)) this.#rooms.delete(name)
    }
  }

  /** Rooms whose state is cached in memory now (at most about 10,000 plus those with appends waiting). */
  get cachedRooms(): number {
    return this.#rooms.size
  }

  #state(state: RoomState): LogState {
    const row = state.row
    return row === undefined
      ? { epoch: this.epoch, first: 1, last: 0 }
      : { epoch: this.epoch, first: row.first, last: row.last }
  }

  /** Writes the batch in one transaction, then settles its promises (rejecting them all if it failed). */
  #flush(): void {
    this.#scheduled = false
    const batch = this.#pending
    if (batch.length === 0) return
    this.#pending = []
    const touched = new Set<RoomState>()
    const saved = new Map<RoomState, RoomRow | undefined>()
    try {
      this.#db.exec('BEGIN')
      const args: (number | string | Uint8Array)[] = []
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i]!
        const state = p.room
        if (!saved.has(state)) saved.set(state, state.row === undefined ? undefined : { ...state.row })
        if (state.row === undefined) {
          const { id } = this.#sql.insertRoom.get(state.name) as { id: number }
          state.row = { id, first: 1, last: 0, bytes: 0 }
        }
        const size = entrySize(p.name, p.data)
        state.row.last = p.offset
        state.row.bytes += size
        touched.add(state)
        if (batch.length - (i - (i % ROWS_PER_INSERT)) >= ROWS_PER_INSERT) {
          args.push(state.row.id, p.offset, p.time, size, p.name, p.data)
          if (args.length === ROWS_PER_INSERT * 6) this.#sql.insertMessages.run(...args.splice(0))
        } else this.#sql.insertMessage.run(state.row.id, p.offset, p.time, size, p.name, p.data)
      }
      for (const state of touched) {
        const row = state.row
        this.#trim(row!, state.limits)
        this.#sql.updateRoom.run(row!.first, row!.last, row!.bytes, row!.id)
      }
      this.#db.exec('COMMIT')
    } catch (error) {
      try {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK')
      } catch {}
      // Nothing of the batch is stored: put the counters back so the next append reuses its offsets.
      for (const [state, row] of saved) {
        state.row = row
        state.last = row?.last ?? 0
      }
      const err = failed('append', error)
      for (const p of batch) p.reject(err)
      return
    }
    for (const p of batch) p.resolve({ offset: p.offset, epoch: this.epoch })
  }

  /** Drops the oldest entries past a limit, inside the caller's transaction; true when any went. */
  #trim(row: RoomRow, limits: ResolvedLimits): boolean {
    if (row.first > row.last) return false
    const now = this.#clock()
    const oldest = this.#sql.oldest.get(row.id, row.first) as { time: number } | undefined
    if (!mustTrim(limits, row.last - row.first + 1, row.bytes, oldest?.time ?? now, now)) return false
    let first = row.first
    let bytes = row.bytes
    for (const r of this.#sql.range.iterate(row.id, row.first)) {
      const { seq, time, size } = r as { seq: number; time: number; size: number }
      if (!mustTrim(limits, row.last - seq + 1, bytes, time, now)) break
      bytes -= size
      first = seq + 1
    }
    this.#sql.deleteBefore.run(row.id, first)
    row.first = first
    row.bytes = bytes
    return true
  }
}
