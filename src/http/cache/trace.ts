// A trace follows one request of HttpCache.run() through the interceptor: run() opens it and names it in a private
// request header; the layers above and below undici's cache interceptor record what really happened (served from the
// store, revalidated with a 304, fetched, or missed under only-if-cached) so `fromCache` never has to be guessed.

/** Request header carrying the trace id from run() to the interceptor; removed before the cache or the network sees it. */
export const TRACE_HEADER = 'x-wirekit-cache-trace'

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

/** Open traces by id. Bounded by the requests in flight: run() closes each trace in a `finally`. */
export class TraceRegistry {
  #next = 0
  #open = new Map<string, Trace>()

  open(mode: TraceMode): [id: string, trace: Trace] {
    const id = String(++this.#next)
    const trace: Trace = { mode }
    this.#open.set(id, trace)
    return [id, trace]
  }

  get(id: string | undefined): Trace | undefined {
    return id === undefined ? undefined : this.#open.get(id)
  }

  close(id: string): void {
    this.#open.delete(id)
  }

  get size(): number {
    return this.#open.size
  }
}
