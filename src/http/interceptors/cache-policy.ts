// The cache-policy step, the top of the pipeline when the session has a cache: it runs the request under its policy
// (http, cache-first, network-first, cache-then-network, ...; see cache/policy.ts) and delivers each response the
// policy yields, sending through the rest of the pipeline with the policy's directives and trace. A fresh hit is read
// from the store before any dispatch (cache/lookup.ts): one synchronous get, no pipeline, no undici round trip.
import { ErrorCodes, HttpError, type WirekitError } from '../../errors.ts'
import type { CachePolicy, HttpCache, TraceOption } from '../cache/index.ts'
import type { Prepared } from '../hop.ts'
import type { HttpResponse } from '../response.ts'
import { DeliveryFeed, type ResponsePromise } from '../response-promise.ts'
import type { SecurityPolicy } from '../security.ts'
import { storedResponse } from '../stored-response.ts'
import type { HttpSessionOptions } from '../types.ts'
import { validateResponse } from '../validate.ts'
import { requestChannel } from './observe.ts'
import { callFor, type Send } from './step.ts'

// Policies whose first delivery may come straight from the store (network-only and network-first ask the origin).
const FAST_POLICIES: ReadonlySet<CachePolicy> = new Set([
  'http',
  'cache-first',
  'stale-while-revalidate',
  'cache-then-network',
])

/** The settling functions of one request's ResponsePromise. */
export type Settle<T> = {
  promise: ResponsePromise<T>
  resolve: (response: HttpResponse<T>) => void
  reject: (error: unknown) => void
}

export class CachePolicyStep {
  readonly #cache: HttpCache
  readonly #send: Send
  readonly #options: HttpSessionOptions
  readonly #security: SecurityPolicy
  /** Hits may be served from the store before dispatch: no interceptor adapts or watches requests before the cache. */
  readonly #fastHits: boolean

  constructor(
    cache: HttpCache,
    send: Send,
    options: HttpSessionOptions,
    security: SecurityPolicy,
    fastHits: boolean,
  ) {
    this.#cache = cache
    this.#send = send
    this.#options = options
    this.#security = security
    this.#fastHits = fastHits
  }

  run<T>(prepared: Prepared, { promise, resolve, reject }: Settle<T>): ResponsePromise<T> {
    const { options } = prepared
    const feed = new DeliveryFeed<HttpResponse<T>>()
    const policy: CachePolicy = options.cachePolicy ?? this.#options.cache?.policy ?? 'http'
    let held: HttpResponse<T> | undefined
    if (
      this.#fastHits &&
      FAST_POLICIES.has(policy) &&
      options.signal?.aborted !== true &&
      !requestChannel.hasSubscribers
    ) {
      const start = performance.now()
      const { url } = prepared
      const anyAge = policy !== 'http'
      const hit = this.#cache.peek(
        url.origin,
        `${url.pathname}${url.search}`,
        prepared.method,
        prepared.headers,
        anyAge,
      )
      if (hit !== undefined) {
        try {
          // A hit is a hop answered by the store: the plain-HTTP rule applies to it as to any other.
          this.#security.checkTransport(url.protocol, url.hostname, url.href)
        } catch (error) {
          reject(error)
          return promise
        }
        try {
          held = storedResponse(prepared, hit, start) as HttpResponse<T>
          validateResponse(held, options, this.#options)
        } catch (error) {
          // Under http and cache-first the stored response is the answer, failing or not; the policies that
          // go on to the origin treat an unusable stored response as none, as their probe does.
          if (policy === 'http' || policy === 'cache-first') {
            reject(error)
            return promise
          }
          held = undefined
        }
      }
      if (held !== undefined && hit !== undefined) {
        // The stored response is delivered at once. Fresh enough for the policy, it is the whole answer;
        // cache-then-network and a stale stale-while-revalidate entry go on to the origin below.
        feed.push(held)
        options.onUpdate?.(held)
        resolve(held)
        if (policy !== 'cache-then-network' && (hit.fresh || policy === 'cache-first')) {
          feed.end()
          return promise.attach(feed)
        }
        // The origin request starts on the next turn of the loop, after the caller has had its first delivery.
        const first = held
        setImmediate(() => this.#deliver(prepared, policy, feed, resolve, reject, first))
        return promise.attach(feed)
      }
    }
    this.#deliver(prepared, policy, feed, resolve, reject, held)
    return promise.attach(feed)
  }

  async #deliver<T>(
    prepared: Prepared,
    policy: CachePolicy,
    feed: DeliveryFeed<HttpResponse<T>>,
    resolve: (response: HttpResponse<T>) => void,
    reject: (error: unknown) => void,
    held: HttpResponse<T> | undefined,
  ): Promise<void> {
    const send = (extra: Record<string, string>, dispatch: TraceOption) =>
      this.#send(callFor(prepared, extra, dispatch)) as Promise<HttpResponse<T>>
    let delivered = held !== undefined
    try {
      for await (const response of this.#cache.run(policy, prepared.method, send, held)) {
        // The held response was delivered before the policy ran.
        if (response === held) continue
        feed.push(response)
        prepared.options.onUpdate?.(response)
        if (!delivered) resolve(response)
        delivered = true
      }
      feed.end()
      if (!delivered) {
        reject(
          new HttpError(
            ErrorCodes.HTTP_NETWORK,
            `No response delivered: ${prepared.method} ${prepared.url.href}`,
          ),
        )
      }
    } catch (error) {
      feed.end(error as WirekitError)
      if (!delivered) reject(error)
    }
  }
}
