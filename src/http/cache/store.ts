// Chooses the cache store: undici's MemoryCacheStore, its SqliteCacheStore on node:sqlite (persistent when given a
// path), or a CacheStore the caller brings. Every store we create is bounded in entries and in entry size.
import { cacheStores } from 'undici'
import { InvalidArgumentError } from '../../errors.ts'
import type { CacheStore } from './undici-internals.ts'

export type StoreChoice = {
  store?: 'memory' | 'sqlite' | CacheStore
  path?: string
  maxEntries?: number
}

export type OpenedStore = {
  store: CacheStore
  kind: 'memory' | 'sqlite' | 'custom'
  /** Releases what we opened (the SQLite database); a caller's own store is left alone. */
  close(): void
}

/** Defaults keep every store bounded: undici's SQLite store is unbounded unless told otherwise. */
export const DEFAULT_MAX_ENTRIES = { memory: 1024, sqlite: 10_000 } as const
/** Largest response body stored, in bytes; bigger responses are delivered but not cached. */
export const MAX_ENTRY_SIZE = 16 * 1024 * 1024

export function openStore(choice: StoreChoice): OpenedStore {
  const { store, path, maxEntries } = choice
  if (maxEntries !== undefined && !(Number.isInteger(maxEntries) && maxEntries > 0)) {
    throw new InvalidArgumentError(`cache.maxEntries must be a positive integer, got ${String(maxEntries)}`)
  }
  if (path !== undefined && (typeof path !== 'string' || path === '')) {
    throw new InvalidArgumentError('cache.path must be a non-empty file path')
  }

  if (typeof store === 'object' && store !== null) {
    if (
      typeof store.get !== 'function' ||
      typeof store.createWriteStream !== 'function' ||
      typeof store.delete !== 'function'
    ) {
      throw new InvalidArgumentError(
        'cache.store must be "memory", "sqlite" or a CacheStore (get, createWriteStream, delete)',
      )
    }
    return { store, kind: 'custom', close() {} }
  }

  if (store === 'sqlite' || (store === undefined && path !== undefined)) {
    let sqlite: InstanceType<typeof cacheStores.SqliteCacheStore>
    try {
      sqlite = new cacheStores.SqliteCacheStore({
        location: path ?? ':memory:',
        maxCount: maxEntries ?? DEFAULT_MAX_ENTRIES.sqlite,
        maxEntrySize: MAX_ENTRY_SIZE,
      })
    } catch (cause) {
      throw new InvalidArgumentError(`cannot open the SQLite cache at ${path ?? ':memory:'}`, { cause })
    }
    return { store: sqlite, kind: 'sqlite', close: () => sqlite.close() }
  }

  if (store === undefined || store === 'memory') {
    if (path !== undefined) throw new InvalidArgumentError('cache.path applies to the "sqlite" store only')
    const memory = new cacheStores.MemoryCacheStore({
      maxCount: maxEntries ?? DEFAULT_MAX_ENTRIES.memory,
      maxEntrySize: MAX_ENTRY_SIZE,
    })
    return { store: memory, kind: 'memory', close() {} }
  }

  throw new InvalidArgumentError(
    `cache.store must be "memory", "sqlite" or a CacheStore, got ${String(store)}`,
  )
}
