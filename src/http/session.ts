// HttpSession: the AFNetworking / Alamofire session on undici. One keep-alive Agent per session; each request is
// prepared here (URL, query, headers, body, deadline) and handed to the session's pipeline (pipeline.ts: cache policy,
// retry, observe, redirect, security, then the dispatcher), whose deliveries settle the ResponsePromise returned.
// Every failure is an HttpError with a stable WK_HTTP_* code.
import type { Dispatcher } from 'undici'
import { ErrorCodes, HttpError, InvalidArgumentError } from '../errors.ts'
import { HttpCache } from './cache/index.ts'
import { DeadlineSweep } from './deadlines.ts'
import { createDispatcher } from './dispatcher.ts'
import { download } from './download.ts'
import { normalizeHeaders } from './headers.ts'
import type { Prepared } from './hop.ts'
import { crossOriginDropped } from './interceptors/redirect.ts'
import { RetryPolicy } from './interceptors/retry.ts'
import { Pipeline } from './pipeline.ts'
import { prepareBody } from './request-body.ts'
import { type ResponsePromise, responsePromise } from './response-promise.ts'
import { SecurityPolicy } from './security.ts'
import type {
  DownloadOptions,
  DownloadResult,
  HttpMethod,
  HttpRequestOptions,
  HttpSessionOptions,
} from './types.ts'
import { parseBaseURL, resolveURL } from './url.ts'

export class HttpSession {
  readonly #options: HttpSessionOptions
  readonly #base: URL | undefined
  readonly #headers: Record<string, string>
  readonly #retry: RetryPolicy
  readonly #cache: HttpCache | undefined
  readonly #agent: Dispatcher
  readonly #deadlines = new DeadlineSweep()
  readonly #pipeline: Pipeline
  readonly #dropped: ReadonlySet<string>
  #closed = false

  constructor(options: HttpSessionOptions = {}) {
    this.#options = options
    this.#base = parseBaseURL(options.baseURL)
    this.#headers = { 'user-agent': 'wirekit', ...normalizeHeaders(options.headers) }
    const security = new SecurityPolicy(options.security)
    this.#retry = new RetryPolicy(options.retry)
    this.#cache = options.cache === undefined ? undefined : new HttpCache(options.cache)
    this.#dropped = crossOriginDropped(options.credentialHeaders)
    const { dispatcher, base } = createDispatcher(options, security, this.#cache?.interceptor)
    this.#agent = base
    this.#pipeline = new Pipeline({
      options,
      security,
      retry: this.#retry,
      cache: this.#cache,
      interceptors: options.interceptors ?? [],
      hop: {
        dispatcher,
        deadlines: this.#deadlines,
        maxResponseSize: options.maxResponseSize ?? 64 * 1024 * 1024,
        progressInterval: options.progressInterval ?? 100,
      },
    })
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
    return this.#pipeline.run(prepared, { promise, resolve, reject })
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
}
