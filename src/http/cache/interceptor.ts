// The dispatcher interceptor of HttpCache: undici's RFC 9111 cache interceptor (configured as a private cache),
// with a thin layer on each side of it. Above: take the request's trace, hide Authorization (see credentials.ts), watch
// the delivery. Below: restore Authorization, record the origin's answer, strip validators when a policy says so.
//
//   caller ─▶ delivery layer ─▶ undici cache interceptor ─▶ network layer ─▶ agent
import { type Dispatcher, interceptors } from 'undici'
import { CREDENTIAL_HEADER, credentialDigest } from './credentials.ts'
import { DeliveryHandler, NetworkHandler } from './handlers.ts'
import { kCacheTrace, type Trace } from './trace.ts'
import { type CacheStore, makeCacheKey, normalizeHeaders, type RequestHeaders } from './undici-internals.ts'

/** Methods whose responses are stored. Others pass through (unsafe ones still invalidate, as RFC 9111 §4.4 says). */
export const CACHED_METHODS = ['GET', 'HEAD'] as const

const kAuthorization = Symbol('wirekit.cache.authorization')

type TracedOptions = Dispatcher.DispatchOptions & {
  [kAuthorization]?: string
  [kCacheTrace]?: Trace
}

/** Builds the composed interceptor for one store; each request's trace rides in its dispatch options. */
export function createCacheInterceptor(store: CacheStore): Dispatcher.DispatcherComposeInterceptor {
  const undiciCache = interceptors.cache({ store, type: 'private', methods: [...CACHED_METHODS] })

  return (dispatch) => {
    const beneath = undiciCache(networkLayer(dispatch))

    return function wirekitCache(opts, handler) {
      const headers = normalizeHeaders(opts)
      const trace = (opts as TracedOptions)[kCacheTrace] ?? { mode: {} }
      trace.networkStatus = undefined
      trace.networkHeaders = undefined
      trace.outcome = undefined
      trace.collapsed = false
      const cacheControl = headers['cache-control']
      trace.onlyIfCached = typeof cacheControl === 'string' && cacheControl.includes('only-if-cached')
      trace.userConditional =
        headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined

      const traced: TracedOptions = { ...opts, headers, [kCacheTrace]: trace }
      const authorization = headers.authorization
      if (typeof authorization === 'string' && (CACHED_METHODS as readonly string[]).includes(opts.method)) {
        delete headers.authorization
        headers[CREDENTIAL_HEADER] = credentialDigest(authorization)
        traced[kAuthorization] = authorization
      }
      const access = { store, key: () => makeCacheKey(traced) }
      return beneath(traced, new DeliveryHandler(handler, trace, access))
    }
  }
}

/** Below undici's cache: what goes on the wire. */
function networkLayer(dispatch: Dispatcher.Dispatch): Dispatcher.Dispatch {
  return function toNetwork(opts: TracedOptions, handler) {
    const trace = opts[kCacheTrace]
    const authorization = opts[kAuthorization]
    if (trace === undefined) return dispatch(opts, handler)

    const { [kCacheTrace]: _trace, [kAuthorization]: _authorization, ...plain } = opts
    const headers: RequestHeaders = { ...(opts.headers as RequestHeaders) }
    if (authorization !== undefined) {
      headers.authorization = authorization
      delete headers[CREDENTIAL_HEADER]
    }
    if (trace.mode.unconditional && !trace.userConditional) {
      delete headers['if-none-match']
      delete headers['if-modified-since']
    }
    return dispatch({ ...plain, headers }, new NetworkHandler(handler, trace, authorization !== undefined))
  }
}
