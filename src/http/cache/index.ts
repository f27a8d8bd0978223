// HttpCache: a private HTTP cache for the session, built on undici's cache interceptor and stores (no second RFC 9111
// implementation). The session composes `interceptor` onto its Agent and runs each request through `run()`, which
// applies a policy and yields the responses to deliver, each labelled `fromCache` (and `notModified` when confirmed).
import { debuglog } from 'node:util'
import type { Dispatcher } from 'undici'
import { ClosedError, ErrorCodes, InvalidArgumentError } from '../../errors.ts'
import { CACHED_METHODS, createCacheInterceptor } from './interceptor.ts'
import { lookupStored, type StoredHit } from './lookup.ts'
import { CACHE_POLICIES, type CachedResponseLike, type CachePolicy, runPolicy, type Send } from './policy.ts'
import { type OpenedStore, openStore } from './store.ts'
import type { CacheStore } from './undici-internals.ts'

export type { StoredHit } from './lookup.ts'
export type { CachedResponseLike, CachePolicy } from './policy.ts'
export { CACHE_POLICIES, isNetworkFailure } from './policy.ts'
export { kCacheTrace, type TraceOption } from './trace.ts'
export type { CacheStore } from './undici-internals.ts'

const debug = debuglog('wirekit')

/** Options of a session cache. */
export type CacheOptions = {
  /**
   * Where responses are kept: `'memory'` (undici's MemoryCacheStore), `'sqlite'` (undici's SqliteCacheStore on
   * node:sqlite, a file at `path`, in memory without one), or your own undici `CacheStore`.
   * @default 'sqlite' when `path` is given, else 'memory'
   */
  store?: 'memory' | 'sqlite' | CacheStore
  /** SQLite database file; the cache survives restarts. Its directory must exist. */
  path?: string
  /** Policy of requests that do not name one. @default 'http' */
  policy?: CachePolicy
  /** Most entries kept; the oldest go first. Ignored for your own store. @default 1024 in memory, 10_000 in SQLite */
  maxEntries?: number
}

/**
 * A private HTTP cache: responses marked `private` are stored, Authorization requests are cached per credential.
 * @example
 * const cache = new HttpCache({ path: './http-cache.sqlite' })
 * const agent = new Agent().compose(cache.interceptor)
 * for await (const res of cache.run('cache-then-network', 'GET', (headers, dispatch) => myRequest(agent, headers, dispatch))) render(res)
 */
export class HttpCache {
  /** RFC 9111 interceptor (undici's cache interceptor configured for a private cache): compose it onto an Agent. */
  readonly interceptor: Dispatcher.DispatcherComposeInterceptor
  /** The policy used when a request names none. */
  readonly policy: CachePolicy

  readonly #opened: OpenedStore
  readonly #background = new Set<Promise<unknown>>()
  #closed = false

  constructor(options: CacheOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('cache options must be an object')
    this.policy = checkPolicy(options.policy ?? 'http')
    this.#opened = openStore(options)
    this.interceptor = createCacheInterceptor(this.#opened.store)
  }

  /** The underlying undici store. */
  get store(): CacheStore {
    return this.#opened.store
  }

  /** `'memory'`, `'sqlite'` or `'custom'`. */
  get storeKind(): OpenedStore['kind'] {
    return this.#opened.kind
  }

  /**
   * Runs one request under a policy and yields the responses to deliver, in order. `send(headers, dispatch)`
   * performs the request through a dispatcher composed with `interceptor`, with `headers` (Cache-Control directives)
   * merged into the request's and `dispatch` (the request's trace, under a symbol) spread into the dispatch options.
   * `fromCache` and `notModified` are set on every response yielded.
   */
  run<R extends CachedResponseLike>(
    policy: CachePolicy | undefined,
    method: string,
    send: Send<R>,
    held?: R,
  ): AsyncGenerator<R> {
    if (this.#closed) throw new ClosedError(ErrorCodes.CLOSED, 'HttpCache is closed')
    if (typeof send !== 'function') throw new InvalidArgumentError('run() needs a send function')
    const chosen = checkPolicy(policy ?? this.policy)
    const cacheable = (CACHED_METHODS as readonly string[]).includes(String(method).toUpperCase())
    return runPolicy(chosen, cacheable, send, { background: (task) => this.#keep(task) }, held)
  }

  /**
   * The stored response for a request, read synchronously before any dispatch, when it can be used without the
   * origin: fresh, or with `anyAge` stale but allowed to be served stale. Undefined whenever only the full path
   * through the interceptor can decide (see lookup.ts).
   */
  peek(
    origin: string,
    path: string,
    method: string,
    headers: Record<string, string>,
    anyAge: boolean,
  ): StoredHit | undefined {
    if (this.#closed) return undefined
    return lookupStored(this.#opened.store, origin, path, method, headers, anyAge)
  }

  /** Resolves once the background refreshes started so far (stale-while-revalidate, cache-then-network) settle. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#background])
  }

  /** Waits for background refreshes, then closes the store if this cache opened it (a store you passed stays open). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#background])
    this.#opened.close()
  }

  #keep(task: Promise<unknown>): void {
    const tracked = task.then(
      () => {},
      (error: unknown) => debug('cache: background request failed: %s', (error as Error)?.message),
    )
    this.#background.add(tracked)
    void tracked.finally(() => this.#background.delete(tracked))
  }
}

function checkPolicy(policy: unknown): CachePolicy {
  if (!CACHE_POLICIES.includes(policy as CachePolicy)) {
    throw new InvalidArgumentError(
      `unknown cache policy ${String(policy)} (expected one of ${CACHE_POLICIES.join(', ')})`,
    )
  }
  return policy as CachePolicy
}
