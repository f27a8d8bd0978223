// Durable rooms' history: the log abstraction and its stores (memory, SQLite, Redis Streams).

export { createHistoryStore, DurableRooms, type HistoryOptions, type RoomFeed } from './durable-rooms.ts'
export { DEFAULT_LIMITS, MAX_READ_LIMIT, RoomLimits, type RoomPatterns } from './limits.ts'
export { type MemoryHistoryOptions, MemoryHistoryStore, type MemoryTotalLimits } from './memory-store.ts'
export { isPosition, planRead } from './read-window.ts'
export {
  type CursorEvent,
  type LiveEntry,
  RecoveryCursor,
  type RecoveryCursorOptions,
} from './recovery-cursor.ts'
export { type RedisHistoryOptions, RedisHistoryStore } from './redis-store.ts'
export { type SqliteHistoryOptions, SqliteHistoryStore } from './sqlite-store.ts'
export type {
  HistoryEntry,
  HistoryGap,
  HistoryLimits,
  HistoryPage,
  HistoryPosition,
  HistoryReadOptions,
  HistoryStore,
  HistoryWatcher,
} from './types.ts'
