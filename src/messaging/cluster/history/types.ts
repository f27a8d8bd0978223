// The history log's vocabulary: positions, entries, gaps, and the store interface every backend
// (memory, SQLite, Redis Streams) implements. A durable room is an ordered log: offsets count 1, 2, 3…
// per room, and the epoch names the log's incarnation (it changes when the storage lost the log).

/**
 * A place in a room's log. `offset` is the last offset seen (0: nothing yet); `epoch` names the log's
 * incarnation. The empty epoch `''` means "the room had no log when this position was taken".
 */
export type HistoryPosition = { offset: number; epoch: string }

/** One publication kept in a room's log. `data` is the encoded payload, stored as given. */
export type HistoryEntry = {
  offset: number
  name: string
  data: Uint8Array
  /** When it was appended, ms since the epoch (the store's clock). */
  time: number
}

/**
 * What a read could not return, said precisely. Offsets `from`..`to` (inclusive, `count` of them) of the
 * current `epoch` are gone (trimmed by a limit); `count` is 0 when none are. For reason `'epoch'` the
 * position asked for belongs to another incarnation of the log (storage lost, or a position this log
 * never reached): everything after `previous.offset` in `previous.epoch` is gone as well.
 */
export type HistoryGap = {
  reason: 'trimmed' | 'epoch'
  room: string
  epoch: string
  from: number
  to: number
  count: number
  previous?: HistoryPosition
}

/** One page of a read: entries in order, at most `limit`, and the log's head when it was read. */
export type HistoryPage = {
  entries: HistoryEntry[]
  /** Present on the page where something asked for could not be returned. */
  gap?: HistoryGap
  /** The last offset appended (and its epoch) at the time of the read: read on while below it. */
  head: HistoryPosition
  /** The oldest offset still kept (head.offset + 1 when the log is empty). */
  first: number
}

export type HistoryReadOptions = {
  /** Read the entries after this position; without it, from the oldest kept, with no gap. */
  after?: HistoryPosition
  /**
   * At most this many entries (1 to 10 000).
   * @default 1000
   */
  limit?: number
}

/**
 * How much each room keeps. The oldest entries go first when any limit is passed; a read that asks for
 * them gets a `gap`. `Infinity` turns a limit off.
 */
export type HistoryLimits = {
  /** Entries per room. @default 10_000 */
  maxMessages?: number
  /** Age of an entry in ms. @default 86_400_000 (a day) */
  maxAge?: number
  /** Bytes per room (payload plus name). @default 16 MiB */
  maxBytes?: number
}

/** Limits for rooms whose names match a pattern (`*` any run of characters; the first match wins). */
export type HistoryRoomLimits = Record<string, HistoryLimits>

/** Told about appends made through any process sharing the store (Redis: every node). */
export type HistoryWatcher = {
  appended(room: string, position: HistoryPosition): void
  /** Notices may have been missed (the notifier reconnected): every reader should look at its rooms again. */
  resync(): void
}

/** A room log store. Appends to one room are numbered in call order. */
export interface HistoryStore {
  readonly kind: 'memory' | 'sqlite' | 'redis'
  /** Appends one entry; resolves with its position once it is stored (durably, for a persistent store). */
  append(room: string, name: string, data: Uint8Array): Promise<HistoryPosition>
  /** Reads entries after `options.after`, or reports precisely what is gone. */
  read(room: string, options?: HistoryReadOptions): Promise<HistoryPage>
  /** The room's head: its last offset and epoch (`{ offset: 0, epoch: '' }` or the store's epoch when empty). */
  head(room: string): Promise<HistoryPosition>
  /** Shared stores only: watches appends made by other processes; returns the function that stops it. */
  watch?(watcher: HistoryWatcher): () => void
  /** Stores what is pending, then releases the storage. Appends after close reject with WK_CLOSED. */
  close(): Promise<void>
}
