// Cache policies, realised as request Cache-Control directives that undici's cache interceptor honours plus a little
// sequencing around `send`. Each run yields the responses to deliver, in order: one, or (cache-then-network) the
// cached one at once and then the fresh one, or a notModified copy of the cached one when the origin says "same".
import { debuglog } from 'node:util'
import { ErrorCodes } from '../../errors.ts'
import { kCacheTrace, type Trace, type TraceMode, type TraceOption } from './trace.ts'

const debug = debuglog('wirekit')

/**
 * - `http`: RFC 9111 (max-age, no-store, no-cache, ETag / Last-Modified revalidation, Vary).
 * - `network-only`: always a full response from the origin (validators dropped); the response is still stored.
 * - `cache-first`: any stored response, even stale; the network only on a miss.
 * - `network-first`: the origin (revalidating what is stored); on a network failure, any stored response.
 * - `cache-then-network`: the stored response at once, then the origin's; "same" is delivered as `notModified`.
 * - `stale-while-revalidate`: any stored response at once, refreshed in the background when stale.
 */
export type CachePolicy =
  | 'http'
  | 'network-only'
  | 'cache-first'
  | 'network-first'
  | 'cache-then-network'
  | 'stale-while-revalidate'

export const CACHE_POLICIES: readonly CachePolicy[] = [
  'http',
  'network-only',
  'cache-first',
  'network-first',
  'cache-then-network',
  'stale-while-revalidate',
]

/** What the cache needs to see of a response, and the two fields it sets on every delivery. */
export type CachedResponseLike = {
  status: number
  headers: Record<string, string>
  /** True when the body came from the store (fresh, stale, or after a 304). */
  fromCache: boolean
  /** True when the origin confirmed the stored response with a 304 or sent the same ETag again. */
  notModified?: boolean
}

/**
 * Sends the request once through a dispatcher composed with the cache's interceptor: `headers` merged into the
 * request's headers (Cache-Control directives of the policy), `dispatch` spread into the dispatch options.
 */
export type Send<R> = (headers: Record<string, string>, dispatch: TraceOption) => Promise<R>

/** What a policy run needs from its HttpCache. */
export type PolicyRuntime = {
  /** Keeps a request that outlives the run (a background refresh) until it settles; close() waits for these. */
  background(task: Promise<unknown>): void
}

// Directives: RFC 9111 §5.2.1. The largest delta-seconds undici accepts stands for "any age".
const ANY_STALENESS = 'max-stale=2147483647'
const CACHED_ONLY = `only-if-cached, ${ANY_STALENESS}`
const REVALIDATE = 'no-cache'

type Attempt<R> = { response: R; trace: Trace } | { response: undefined; trace: Trace; error: unknown }

/**
 * Runs one request under `policy`. Methods other than GET and HEAD always go to the network once. `held` is the
 * stored response when the caller already read it from the store (the fast path), so no probe is sent for it.
 */
export async function* runPolicy<R extends CachedResponseLike>(
  policy: CachePolicy,
  cacheable: boolean,
  send: Send<R>,
  runtime: PolicyRuntime,
  held?: R,
): AsyncGenerator<R> {
  if (!cacheable) {
    yield deliver(await attempt(send, undefined))
    return
  }
  switch (policy) {
    case 'http':
      yield deliver(await attempt(send, undefined))
      return
    case 'network-only':
      yield deliver(await attempt(send, REVALIDATE, { unconditional: true }))
      return
    case 'cache-first':
      yield deliver(await attempt(send, ANY_STALENESS))
      return
    case 'network-first':
      yield await networkFirst(send)
      return
    case 'stale-while-revalidate': {
      const cached = held ?? (await probe(send))
      if (cached === undefined) {
        yield deliver(await attempt(send, undefined))
        return
      }
      // Under plain HTTP rules the refresh is a no-op for a fresh entry and a revalidation for a stale one.
      runtime.background(attempt(send, undefined))
      yield cached
      return
    }
    case 'cache-then-network': {
      const cached = held ?? (await probe(send))
      const mode: TraceMode = cached ? { collapse: { etag: headerOf(cached.headers, 'etag') } } : {}
      // Start the origin request before delivering the cached response: the caller may never ask for the update.
      const fresh = attempt(send, REVALIDATE, mode)
      if (cached !== undefined) {
        runtime.background(fresh)
        yield cached
      }
      const answer = await fresh
      if (cached !== undefined && answer.trace.collapsed) yield notModifiedCopy(cached)
      else yield deliver(answer)
      return
    }
    default:
      throw new TypeError(`unknown cache policy ${String(policy)}`)
  }
}

async function networkFirst<R extends CachedResponseLike>(send: Send<R>): Promise<R> {
  try {
    return deliver(await attempt(send, REVALIDATE))
  } catch (error) {
    if (!isNetworkFailure(error)) throw error
    const cached = await probe(send)
    if (cached === undefined) throw error
    debug('cache: network-first fell back to the cache: %s', (error as Error)?.message)
    return cached
  }
}

/** The stored response (any age) without contacting the origin, or undefined on a miss or a failing store. */
async function probe<R extends CachedResponseLike>(send: Send<R>): Promise<R | undefined> {
  try {
    const result = await attempt(send, CACHED_ONLY)
    return result.response
  } catch (error) {
    if (isCancellation(error)) throw error
    debug('cache: reading the store failed, treated as a miss: %s', (error as Error)?.message)
    return undefined
  }
}

/** One `send` with a trace, labelled with where its response came from. */
async function attempt<R extends CachedResponseLike>(
  send: Send<R>,
  cacheControl: string | undefined,
  mode: TraceMode = {},
): Promise<Attempt<R>> {
  const trace: Trace = { mode }
  const extra: Record<string, string> = {}
  if (cacheControl !== undefined) extra['cache-control'] = cacheControl
  try {
    const response = await send(extra, { [kCacheTrace]: trace })
    response.fromCache = trace.outcome === 'cache' || trace.outcome === 'revalidated'
    if (trace.outcome === 'revalidated') response.notModified = true
    return { response, trace }
  } catch (error) {
    // A miss under only-if-cached and a withheld "same" body are answers, whatever the session made of them.
    if (trace.outcome === 'not-cached' || trace.collapsed) return { response: undefined, trace, error }
    throw error
  }
}

function deliver<R>(result: Attempt<R>): R {
  if ('error' in result) throw result.error
  return result.response
}

/** The held response again, marked as confirmed by the origin: same body, no second parse. */
function notModifiedCopy<R extends CachedResponseLike>(held: R): R {
  const copy = Object.create(Object.getPrototypeOf(held), Object.getOwnPropertyDescriptors(held)) as R
  copy.fromCache = true
  copy.notModified = true
  return copy
}

function headerOf(headers: Record<string, string>, name: string): string | undefined {
  if (headers[name] !== undefined) return headers[name]
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headers[key]
  return undefined
}

// Failures that are not "the network is unreachable": the caller's doing, or an answer from the origin.
const NOT_NETWORK = new Set<string>([
  ErrorCodes.HTTP_CANCELLED,
  ErrorCodes.ABORTED,
  ErrorCodes.INVALID_ARGUMENT,
  ErrorCodes.HTTP_BAD_URL,
  ErrorCodes.HTTP_INSECURE,
  ErrorCodes.HTTP_STATUS,
  ErrorCodes.HTTP_CONTENT_TYPE,
  ErrorCodes.HTTP_BODY,
  ErrorCodes.HTTP_TOO_MANY_REDIRECTS,
  ErrorCodes.HTTP_HEADERS_TOO_LARGE,
  ErrorCodes.HTTP_NOT_CACHED,
])

/** True when `error` means the origin could not be reached (refused, reset, timed out, DNS…), so offline data helps. */
export function isNetworkFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { code, response } = error as { code?: unknown; response?: unknown }
  if (response !== undefined || isCancellation(error)) return false
  return !(typeof code === 'string' && NOT_NETWORK.has(code))
}

function isCancellation(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown }
  return name === 'AbortError' || code === ErrorCodes.HTTP_CANCELLED || code === ErrorCodes.ABORTED
}
