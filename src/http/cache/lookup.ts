// The fast path of a cache hit: one synchronous store read before anything is dispatched. It answers only when the
// answer is certain under undici's cache semantics (the same key, the same freshness rule); anything it cannot
// decide — a stale entry that needs revalidation, request directives, a store that answers asynchronously — returns
// undefined and the request takes the full path through undici's cache interceptor.
import { CREDENTIAL_HEADER, credentialDigest } from './credentials.ts'
import { type CacheKey, type CacheStore, makeCacheKey } from './undici-internals.ts'

/** What undici's stores return from `get` (their GetResult type is not exported by name). */
export type StoredValue = {
  statusCode: number
  statusMessage: string
  headers: Record<string, string | string[]>
  body: Buffer | Buffer[] | undefined | null
  etag?: string
  vary?: Record<string, string | string[] | null>
  cacheControlDirectives?: Record<string, unknown>
  cachedAt: number
  staleAt: number
  deleteAt: number
}

export type StoredHit = { value: StoredValue; key: CacheKey; age: number; fresh: boolean }

// Request fields that change what the cache may answer (directives, validators, ranges, another authority): leave
// those requests to the full path.
const DECLINED_REQUEST_HEADERS = [
  'cache-control',
  'pragma',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'host',
]

/**
 * The stored response for a GET or HEAD, if it can be used without contacting the origin: fresh, or (with
 * `anyAge`, for policies that accept stale data) stale but not forbidden to be served stale.
 */
export function lookupStored(
  store: CacheStore,
  origin: string,
  path: string,
  method: string,
  requestHeaders: Record<string, string>,
  anyAge: boolean,
): StoredHit | undefined {
  if (method !== 'GET' && method !== 'HEAD') return undefined
  for (const name of DECLINED_REQUEST_HEADERS) if (requestHeaders[name] !== undefined) return undefined
  let headers = requestHeaders
  const authorization = headers.authorization
  if (authorization !== undefined) {
    // Keyed as the interceptor keys it: on a digest of the credential, never the credential itself.
    headers = { ...headers, [CREDENTIAL_HEADER]: credentialDigest(authorization) }
    delete headers.authorization
  }
  const key = makeCacheKey({ origin, path, method, headers } as Parameters<typeof makeCacheKey>[0])
  const value = store.get(key) as StoredValue | undefined | Promise<unknown>
  if (value === undefined || value === null || typeof (value as Promise<unknown>).then === 'function')
    return undefined
  const stored = value as StoredValue
  const now = Date.now()
  if (now > stored.deleteAt) return undefined
  const directives = stored.cacheControlDirectives ?? {}
  // An unqualified no-cache means "revalidate before every use"; that is the full path's job.
  if (directives['no-cache'] === true) return undefined
  // undici's rule: a zero lifetime is never fresh, even within the same millisecond.
  const fresh = now <= stored.staleAt && stored.staleAt > stored.cachedAt
  if (!fresh && (!anyAge || directives['must-revalidate'] === true)) return undefined
  if (
    stored.body !== undefined &&
    stored.body !== null &&
    !Array.isArray(stored.body) &&
    !Buffer.isBuffer(stored.body)
  ) {
    return undefined
  }
  return { value: stored, key, age: Math.round((now - stored.cachedAt) / 1000), fresh }
}
