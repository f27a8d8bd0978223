// The two pieces of undici's cache we reuse beyond its public surface: CacheHandler (to store a 304-freshened entry
// with undici's own RFC 9111 freshness rules) and makeCacheKey/normalizeHeaders (so our keys are undici's keys).
// undici ships no `exports` map, so these paths resolve; the 304-refresh tests fail loudly if a release moves them.
import { createRequire } from 'node:module'
import type { Dispatcher, interceptors } from 'undici'

const require = createRequire(import.meta.url)

/** undici's CacheStore (get, createWriteStream, delete): its types module is not exported by name. */
export type CacheStore = NonNullable<NonNullable<Parameters<typeof interceptors.cache>[0]>['store']>
export type CacheKey = Parameters<CacheStore['get']>[0]
export type RequestHeaders = Record<string, string | string[]>

type CacheHandlerConstructor = new (
  options: { store: CacheStore; type?: 'shared' | 'private'; cacheByDefault?: number },
  key: CacheKey,
  handler: Dispatcher.DispatchHandler,
) => Dispatcher.DispatchHandler

type CacheUtil = {
  makeCacheKey(opts: Dispatcher.DispatchOptions): CacheKey
  normalizeHeaders(opts: Dispatcher.DispatchOptions): RequestHeaders
}

/** undici's storing handler: given a response, decides storability and freshness (RFC 9111) and writes the store. */
export const UndiciCacheHandler = require('undici/lib/handler/cache-handler.js') as CacheHandlerConstructor

const util = require('undici/lib/util/cache.js') as CacheUtil

/** The cache key undici's interceptor computes for these dispatch options. */
export const makeCacheKey: CacheUtil['makeCacheKey'] = util.makeCacheKey

/** Request headers as undici's interceptor sees them: a plain object with lower-case names. */
export const normalizeHeaders: CacheUtil['normalizeHeaders'] = util.normalizeHeaders
