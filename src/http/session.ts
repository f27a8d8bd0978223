// HttpSession: the AFNetworking / Alamofire session on undici. One keep-alive Agent per session; each request is
// prepared (URL, query, body), run through the cache policy, sent with retries and interceptors, then validated
// (status, content type) and decoded. Every failure is an HttpError with a stable WK_HTTP_* code.
import { channel } from 'node:diagnostics_channel'
import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { ErrorCodes, HttpError, InvalidArgumentError, type WirekitError } from '../errors.ts'
import { delay } from '../util/timeout.ts'
import { type AttemptContext, type Prepared, attempt as sendAttempt } from './attempt.ts'
import { type CachePolicy, HttpCache, type TraceOption } from './cache/index.ts'
import { DeadlineSweep } from './deadlines.ts'
import { createDispatcher } from './dispatcher.ts'
import { download } from './download.ts'
import { normalizeHeaders } from './headers.ts'
import { cancelledError } from './http-errors.ts'
import type { HttpEvent, HttpInterceptor, OutgoingRequest } from './interceptor.ts'
import { crossOriginDropped } from './redirect.ts'
import { prepareBody } from './request-body.ts'
import type { HttpResponse } from './response.ts'
import { DeliveryFeed, type ResponsePromise, responsePromise } from './response-promise.ts'
import { parseRetryAfter, RetryPolicy } from './retry.ts'
import { SecurityPolicy } from './security.ts'
import { storedResponse } from './stored-response.ts'
import type {
  DownloadOptions,
  DownloadResult,
  HttpMethod,
  HttpRequestOptions,
  HttpSessionOptions,
} from './types.ts'
import { parseBaseURL, resolveURL } from './url.ts'
import { validateResponse } from './validate.ts'

const requestChannel = channel('wirekit:http:request')
// Interceptors may retry beyond the policy's limit (a token refresh with retry: false), but never past this.
const MAX_ATTEMPTS = 10
// Policies whose first delivery may come straight from the store (network-only and network-first ask the origin).
const FAST_POLICIES: ReadonlySet<CachePolicy> = new Set([
  'http',
  'cache-first',
  'stale-while-revalidate',
  'cache-then-network',
])

export class HttpSession {
  readonly #options: HttpSessionOptions
  readonly #base: URL | undefined
  readonly #headers: Record<string, string>
  readonly #policy: SecurityPolicy
  readonly #retry: RetryPolicy
  readonly #cache: HttpCache | undefined
  readonly #agent: Dispatcher
  readonly #interceptors: HttpInterceptor[]
  readonly #deadlines = new DeadlineSweep()
  readonly #context: AttemptContext
  readonly #dropped: ReadonlySet<string>
  /** Hits may be served from the store before dispatch: no interceptor adapts or watches requests before the cache. */
  readonly #fastHits: boolean
  #closed = false

  constructor(options: HttpSessionOptions = {}) {
    this.#options = options
    this.#base = parseBaseURL(options.baseURL)
    this.#headers = { 'user-agent': 'wirekit', ...normalizeHeaders(options.headers) }
    this.#policy = new SecurityPolicy(options.security)
    this.#retry = new RetryPolicy(options.retry)
    this.#cache = options.cache === undefined ? undefined : new HttpCache(options.cache)
    this.#interceptors = options.interceptors ?? []
    this.#dropped = crossOriginDropped(options.credentialHeaders)
    this.#fastHits =
      this.#cache !== undefined &&
      this.#interceptors.length === 0 &&
      (options.dispatchInterceptors ?? []).length === 0
    const { dispatcher, base } = createDispatcher(options, this.#policy, this.#cache?.interceptor)
    this.#agent = base
    this.#context = {
      dispatcher,
      policy: this.#policy,
      deadlines: this.#deadlines,
      maxResponseSize: options.maxResponseSize ?? 64 * 1024 * 1024,
      progressInterval: options.progressInterval ?? 100,
    }
  }

  get<T = unknown>(url: string | URL, options?: HttpRequestOptions): ResponsePromise<T> {
    return this.request<T>('GET', url, options)
  }

  head(url: string | URL, options?: HttpRequestOptions): ResponsePromise<undefined> {
    return this.request<undefined>('HEAD', url, options)
  }

  post<T = unknown>(url: string | URL, options?: HttpRequestOptions): ResponsePromise<T> {
    return this.request<T>('POST', url, options)
  }

  put<T = unknown>(url: string | URL, options?: HttpRequestOptions): ResponsePromise<T> {
    return this.request<T>('PUT', url, options)
  }

  patch<T = unknown>(url: string | URL, options?: HttpRequestOptions): ResponsePromise<T> {
    return this.request<T>('PATCH', url, options)
  }

  delete<T = unknown>(url: string | URL, options?: HttpRequestOptions): ResponsePromise<T> {
    return this.request<T>('DELETE', url, options)
  }

  /**
   * Sends a request. Misuse (conflicting body options, a bad query) throws at once; everything else — a bad URL,
   * plain HTTP refused, network, status, content type — rejects with an HttpError.
   */
  request<T = unknown>(
    method: HttpMethod,
    url: string | URL,
    options: HttpRequestOptions = {},
  ): ResponsePromise<T> {
    const { promise, resolve, reject } = responsePromise<T>()
    let prepared: Prepared
    try {
      prepared = this.#prepare(method.toUpperCase(), url, options)
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw error
      reject(error)
      return promise
    }
    if (this.#cache === undefined) {
      const sent = this.#send(prepared, undefined) as Promise<HttpResponse<T>>
      if (options.onUpdate === undefined) sent.then(resolve, reject)
      else sent.then((r) => notify(options, r, resolve), reject)
      return promise
    }
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
        if (options.onUpdate === undefined) resolve(held)
        else notify(options, held, resolve)
        if (policy !== 'cache-then-network' && (hit.fresh || policy === 'cache-first')) {
          feed.end()
          return promise.attach(feed)
        }
        // The origin request starts on the next turn of the loop, after the caller has had its first delivery.
        setImmediate(() => this.#deliver(prepared, policy, feed, resolve, reject, held))
        return promise.attach(feed)
      }
    }
    this.#deliver(prepared, policy, feed, resolve, reject, held)
    return promise.attach(feed)
  }

  /** Downloads to a file: temporary file, rename when complete, optional resume. See DownloadOptions. */
  download(url: string | URL, options: DownloadOptions): Promise<DownloadResult> {
    return download(this, url, options)
  }

  /** Closes the pool once in-flight requests finish, then the cache. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#agent.close()
    this.#deadlines.stop()
    await this.#cache?.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  // --- preparation ----------------------------------------------------------------------------------------------

  #prepare(method: string, input: string | URL, options: HttpRequestOptions): Prepared {
    if (this.#closed)
      throw new HttpError(ErrorCodes.HTTP_NETWORK, `Session is closed: ${method} ${String(input)}`)
    const url = resolveURL(input, this.#base, options.query, this.#options.query)
    this.#policy.checkTransport(url.protocol, url.hostname, url.href)
    const body = prepareBody(options, this.#options.query)
    let headers = this.#headers
    if (options.headers !== undefined || body?.contentType !== undefined) {
      headers = { ...headers, ...normalizeHeaders(options.headers) }
      if (body?.contentType !== undefined && headers['content-type'] === undefined) {
        headers['content-type'] = body.contentType
      }
    }
    const timeout = options.timeout ?? this.#options.timeout ?? 30_000
    return {
      method,
      url,
      headers,
      body,
      options,
      responseType: options.responseType ?? 'auto',
      retry: options.retry === undefined ? this.#retry : new RetryPolicy(options.retry),
      timeout,
      deadline:
        timeout > 0 && Number.isFinite(timeout) ? performance.now() + timeout : Number.POSITIVE_INFINITY,
      maxRedirects: options.maxRedirects ?? this.#options.maxRedirects ?? 5,
      crossOriginDropped:
        options.credentialHeaders === undefined
          ? this.#dropped
          : crossOriginDropped(options.credentialHeaders),
    }
  }

  // --- cache deliveries -----------------------------------------------------------------------------------------

  async #deliver<T>(
    prepared: Prepared,
    policy: CachePolicy,
    feed: DeliveryFeed<HttpResponse<T>>,
    resolve: (response: HttpResponse<T>) => void,
    reject: (error: unknown) => void,
    held: HttpResponse<T> | undefined,
  ): Promise<void> {
    const cache = this.#cache as HttpCache
    const send = (extra: Record<string, string>, dispatch: TraceOption) =>
      this.#send(prepared, extra, dispatch) as Promise<HttpResponse<T>>
    let delivered = held !== undefined
    try {
      for await (const response of cache.run(policy, prepared.method, send, held)) {
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

  // --- attempts -------------------------------------------------------------------------------------------------

  /** Sends `prepared` (plus any cache headers), retrying as the policy and interceptors decide. */
  async #send(
    prepared: Prepared,
    extraHeaders: Record<string, string> | undefined,
    dispatch?: TraceOption,
  ): Promise<HttpResponse> {
    const { method, options, retry } = prepared
    const replayable = prepared.body === undefined || prepared.body.replayable
    const observed = this.#interceptors.length > 0 || requestChannel.hasSubscribers
    for (let attempt = 1; ; attempt++) {
      let headers = prepared.headers
      if (extraHeaders !== undefined) headers = { ...headers, ...extraHeaders }
      let outgoing: OutgoingRequest | undefined
      if (observed) {
        outgoing = { method, url: prepared.url, headers: { ...headers }, attempt }
        for (const interceptor of this.#interceptors) await interceptor.adapt?.(outgoing)
        headers = outgoing.headers
        if (outgoing.url !== prepared.url) {
          this.#policy.checkTransport(outgoing.url.protocol, outgoing.url.hostname, outgoing.url.href)
        }
        this.#emit({ type: 'request', request: outgoing })
      }
      const url = outgoing?.url ?? prepared.url
      let response: HttpResponse | undefined
      let failure: WirekitError | undefined
      try {
        response = await sendAttempt(this.#context, prepared, url, headers, dispatch)
      } catch (error) {
        failure = error as WirekitError
      }
      const canRetry = attempt <= retry.limit && replayable && retry.allowsMethod(method)
      let proposed: number | undefined
      if (canRetry && response !== undefined && retry.retriesStatus(response.status)) {
        const after = parseRetryAfter(response.headers['retry-after'])
        proposed =
          after === undefined ? retry.backoff(attempt - 1) : after <= retry.maxRetryAfter ? after : undefined
      } else if (canRetry && failure !== undefined && retry.retriesError(failure.code)) {
        proposed = retry.backoff(attempt - 1)
      }
      let wait = proposed
      if (outgoing !== undefined && replayable && attempt < MAX_ATTEMPTS) {
        wait = await this.#decideRetry(outgoing, failure, response, proposed)
      }
      const cancelled = options.signal?.aborted === true || failure?.code === ErrorCodes.HTTP_CANCELLED
      if (wait !== undefined && !cancelled && performance.now() + wait < prepared.deadline) {
        if (outgoing !== undefined)
          this.#emit({ type: 'retry', request: outgoing, delay: wait, error: failure, response })
        if (response?.data !== undefined && typeof (response.data as Readable).destroy === 'function') {
          ;(response.data as Readable).destroy()
        }
        try {
          await delay(wait, options.signal)
        } catch (reason) {
          throw cancelledError(method, url.href, reason)
        }
        continue
      }
      if (failure !== undefined) {
        if (outgoing !== undefined) this.#emit({ type: 'error', request: outgoing, error: failure })
        throw failure
      }
      const done = response as HttpResponse
      done.attempts = attempt
      validateResponse(done, prepared.options, this.#options)
      if (outgoing !== undefined) this.#emit({ type: 'response', request: outgoing, response: done })
      return done
    }
  }

  async #decideRetry(
    request: OutgoingRequest,
    error: WirekitError | undefined,
    response: HttpResponse | undefined,
    proposedDelay: number | undefined,
  ): Promise<number | undefined> {
    for (const interceptor of this.#interceptors) {
      if (interceptor.retry === undefined) continue
      const verdict = await interceptor.retry({ request, error, response, proposedDelay })
      if (verdict === undefined) continue
      if (verdict === false) return undefined
      if (verdict === true) return proposedDelay ?? this.#retry.backoff(request.attempt - 1)
      return Math.max(0, verdict)
    }
    return proposedDelay
  }

  #emit(event: HttpEvent): void {
    for (const interceptor of this.#interceptors) {
      try {
        interceptor.observe?.(event)
      } catch {
        // Observers must not change the outcome of a request.
      }
    }
    if (requestChannel.hasSubscribers) requestChannel.publish(event)
  }
}

function notify<T>(
  options: HttpRequestOptions,
  response: HttpResponse<T>,
  resolve: (r: HttpResponse<T>) => void,
): void {
  options.onUpdate?.(response)
  resolve(response)
}
