// A trace follows one request of HttpCache.run() through the interceptor: run() creates it and hands it to the
// request as a symbol-keyed dispatch option (never a header: nothing private can leak to the origin or into a cache
// key); the layers above and below undici's cache interceptor record what really happened (served from the store,
// revalidated with a 304, fetched, or missed under only-if-cached) so `fromCache` never has to be guessed.

/** Dispatch option carrying a request's trace from run() to the interceptor (spread it into the request options). */
export const kCacheTrace: unique symbol = Symbol('wirekit.cache.trace')

/** What run() asks `send` to add to its dispatch options: spread it in (`{ ...options, ...dispatch }`). */
export type TraceOption = { [kCacheTrace]: Trace }

export type TraceMode = {
  /** Drop the validators undici adds when revalidating: the origin must send a full response (network-only). */
  unconditional?: boolean
  /** The caller already holds this cached response: when the origin's answer is the same, withhold the body. */
  collapse?: { etag: string | undefined }
}

export type TraceOutcome = 'network' | 'cache' | 'revalidated' | 'not-cached'

export type Trace = {
  readonly mode: TraceMode
  /** Status and headers of the last response the origin sent for this request, if any. */
  networkStatus?: number
  networkHeaders?: Record<string, string | string[] | undefined>
  /** Where the delivered response came from; set when the response starts. */
  outcome?: TraceOutcome
  /** The response was the same as the one the caller holds: delivered as a bodiless 304. */
  collapsed?: boolean
  /** The request carried only-if-cached: a header-less 504 without a network answer is undici's miss. */
  onlyIfCached?: boolean
  /** The caller sent its own validators: never strip them. */
  userConditional?: boolean
}
