// One request/response exchange (one hop of one attempt) on undici's dispatch API: a handler object (no per-chunk
// closures) that collects the body, or streams it with backpressure, counts download progress, measures timings, and
// turns every failure — cancellation, the deadline, undici and socket errors — into one rejection with a stable code.
// A redirect the session will follow resolves at its end with `location` set and its body discarded.
//
//   dispatch ─▶ onRequestStart ─▶ onResponseStart ─▶ onResponseData* ─▶ onResponseEnd      (resolve)
//                     └──────────────┴───────────────────┴──── onResponseError / abort / timeout (reject)
import { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { ErrorCodes, HttpError, type WirekitError } from '../errors.ts'
import { type DeadlineSweep, type Expirable, kNext, kPrev } from './deadlines.ts'
import { cancelledError, timeoutError, toHttpError } from './http-errors.ts'
import type { ProgressReporter } from './progress.ts'
import { REDIRECT_STATUSES } from './redirect.ts'
import type { HttpTimings } from './response.ts'
import { HttpResponse } from './response.ts'
import { hasNoBody, joinChunks } from './response-body.ts'
import { type ConnectionTimings, expectSendHeaders, forgetSendHeaders } from './timings.ts'

type Controller = Dispatcher.DispatchController
type IncomingHeaders = Record<string, string | string[] | undefined>

/** The body as the exchange hands it over: bytes for buffered responses, a stream for 'stream'. */
export type RawResponse = HttpResponse<Buffer | Readable | undefined>

export type ExchangeOptions = {
  url: URL
  method: string
  stream: boolean
  maxResponseSize: number
  /** The request's deadline (a `performance.now()` instant; +Infinity for none), watched by `sweep`. */
  deadline: number
  /** The request's timeout in ms, for the error message. */
  timeout: number
  sweep: DeadlineSweep
  signal: AbortSignal | undefined
  progress: ProgressReporter | undefined
  /** When the request's first hop started (`performance.now()`): timings of a redirected request span every hop. */
  start: number
  /** Redirects followed before this hop. */
  redirects: number
  /** Treat a redirect status with a Location as a hop to follow: discard its body, resolve at its end. */
  follow: boolean
}

export class Exchange implements Dispatcher.DispatchHandler, Expirable {
  readonly promise: Promise<RawResponse>
  readonly deadline: number;
  [kPrev]: Expirable | undefined = undefined;
  [kNext]: Expirable | undefined = undefined
  readonly #resolve: (response: RawResponse) => void
  readonly #reject: (error: WirekitError) => void
  readonly #options: ExchangeOptions
  #controller: Controller | null = null
  #location: string | undefined
  #response: RawResponse | undefined
  #chunks: Buffer[] = []
  #length = 0
  #stream: Readable | undefined
  #settled = false
  #failure: WirekitError | undefined
  #watched = false
  #conn: ConnectionTimings | undefined
  #firstByte = 0

  constructor(options: ExchangeOptions) {
    const { promise, resolve, reject } = Promise.withResolvers<RawResponse>()
    this.promise = promise
    this.#resolve = resolve
    this.#reject = reject
    this.#options = options
    this.deadline = options.deadline
    if (options.signal !== undefined) {
      if (options.signal.aborted) {
        this.#fail(cancelledError(options.method, options.url.href, options.signal.reason))
        return
      }
      options.signal.addEventListener('abort', this, { once: true })
    }
    if (options.deadline !== Number.POSITIVE_INFINITY) {
      this.#watched = true
      options.sweep.add(this)
    }
  }

  /** True when the request failed before it could be dispatched (already-aborted signal). */
  get failed(): boolean {
    return this.#failure !== undefined
  }

  /** The Location of a redirect to follow (set when the promise resolves with one), else undefined. */
  get location(): string | undefined {
    return this.#location
  }

  // --- undici handler -------------------------------------------------------------------------------------------

  onRequestStart(controller: Controller, _context: unknown): void {
    this.#controller = controller
    if (this.#failure !== undefined) {
      controller.abort(this.#failure)
      return
    }
    expectSendHeaders(this)
  }

  onConnection(timings: ConnectionTimings | undefined): void {
    this.#conn = timings
  }

  onResponseStart(
    controller: Controller,
    status: number,
    headers: IncomingHeaders,
    statusText?: string,
  ): void {
    this.#controller = controller
    forgetSendHeaders(this)
    if (status < 200) return
    this.#firstByte = performance.now() - this.#options.start
    const { method, url } = this.#options
    const flat: Record<string, string> = {}
    let setCookie: string[] = []
    for (const name of Object.keys(headers)) {
      const value = headers[name]
      if (value === undefined) continue
      if (typeof value === 'string') flat[name] = value
      else flat[name] = value.join(', ')
      if (name === 'set-cookie') setCookie = typeof value === 'string' ? [value] : value
    }
    const response: RawResponse = new HttpResponse<Buffer | Readable | undefined>(
      url.href,
      method,
      status,
      statusText ?? '',
      flat,
      setCookie,
      undefined,
      this.#timings(),
      this.#options.redirects,
    )
    this.#response = response
    if (this.#options.follow && REDIRECT_STATUSES.has(status) && flat.location !== undefined) {
      // Only the Location matters; the body (usually a stub page) is read off the connection and dropped.
      const location = headers.location
      this.#location = typeof location === 'string' ? location : (location as string[])[0]
      return
    }
    const progress = this.#options.progress
    if (progress !== undefined) {
      const length = Number(flat['content-length'])
      progress.total = Number.isFinite(length) ? progress.done + length : undefined
    }
    if (this.#options.stream && !hasNoBody(method, status)) {
      this.#stream = new Readable({ read: resumeController, destroy: destroyExchange })
      ;(this.#stream as ExchangeStream)[kExchange] = this
      response.data = this.#stream
      // A streamed body is the caller's from here: the deadline stops at the headers.
      this.#unwatch()
      this.#settle()
      this.#resolve(response)
    }
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#location !== undefined) return
    this.#options.progress?.add(chunk.length)
    if (this.#stream !== undefined) {
      if (!this.#stream.push(chunk)) controller.pause()
      return
    }
    this.#length += chunk.length
    if (this.#length > this.#options.maxResponseSize) {
      const { method, url } = this.#options
      const error = new HttpError(
        ErrorCodes.HTTP_BODY,
        `Response larger than maxResponseSize (${this.#options.maxResponseSize} bytes): ${method} ${url.href}`,
      )
      this.#fail(error)
      return
    }
    this.#chunks.push(chunk)
  }

  onResponseEnd(_controller: Controller, _trailers: IncomingHeaders): void {
    const response = this.#response
    if (this.#location !== undefined) {
      if (this.#settled || response === undefined) return
      this.#finishTimings()
      this.#settle()
      this.#resolve(response)
      return
    }
    this.#options.progress?.finish()
    if (this.#stream !== undefined) {
      this.#finishTimings()
      this.#detach()
      this.#stream.push(null)
      return
    }
    if (this.#settled || response === undefined) return
    response.data = joinChunks(this.#chunks, this.#length)
    this.#chunks = []
    this.#finishTimings()
    this.#settle()
    this.#resolve(response)
  }

  onResponseError(_controller: Controller | null, error: Error): void {
    const { method, url } = this.#options
    const mapped =
      this.#failure ?? toHttpError(error, method, url.href, this.#response === undefined ? 'request' : 'body')
    if (this.#stream !== undefined) {
      this.#detach()
      this.#stream.destroy(mapped)
      return
    }
    if (this.#settled) return
    this.#settle()
    this.#reject(mapped)
  }

  // --- cancellation -------------------------------------------------------------------------------------------

  /** AbortSignal listener (an object listener: no closure per request). */
  handleEvent(): void {
    const { method, url, signal } = this.#options
    this.#fail(cancelledError(method, url.href, signal?.reason))
  }

  /** Called by the session's DeadlineSweep once the request's deadline has passed. */
  expire(): void {
    this.#watched = false
    const { method, url, timeout } = this.#options
    this.#fail(timeoutError(method, url.href, timeout))
  }

  /** Ends the exchange with `error`: rejects (or errors the stream) at once and aborts the request in undici. */
  #fail(error: WirekitError): void {
    if (this.#failure !== undefined) return
    this.#failure = error
    if (this.#stream !== undefined) {
      this.#detach()
      this.#stream.destroy(error)
    } else if (!this.#settled) {
      this.#settle()
      this.#reject(error)
    }
    const controller = this.#controller
    if (controller !== null && !controller.aborted) controller.abort(error)
  }

  /** Called by the stream when its consumer destroys it early. */
  abortFromStream(error: Error | null): void {
    if (this.#failure !== undefined || this.#settledStream) return
    const reason = error ?? cancelledError(this.#options.method, this.#options.url.href, undefined)
    this.#failure = reason as WirekitError
    this.#detach()
    const controller = this.#controller
    if (controller !== null && !controller.aborted) controller.abort(reason)
  }

  get #settledStream(): boolean {
    return this.#stream?.readableEnded === true
  }

  resume(): void {
    this.#controller?.resume()
  }

  #settle(): void {
    this.#settled = true
    if (this.#stream === undefined) this.#detach()
  }

  #detach(): void {
    this.#unwatch()
    this.#options.signal?.removeEventListener('abort', this)
  }

  #unwatch(): void {
    if (!this.#watched) return
    this.#watched = false
    this.#options.sweep.delete(this)
  }

  // --- timings ------------------------------------------------------------------------------------------------

  #timings(): HttpTimings {
    const conn = this.#conn
    const fresh = conn !== undefined && !conn.claimed
    if (fresh) conn.claimed = true
    return {
      start: performance.timeOrigin + this.#options.start,
      dns: fresh ? conn.dns : 0,
      connect: fresh ? conn.connect : 0,
      tls: fresh ? conn.tls : 0,
      firstByte: this.#firstByte,
      total: this.#firstByte,
      reused: !fresh,
    }
  }

  #finishTimings(): void {
    if (this.#response !== undefined) this.#response.timings.total = performance.now() - this.#options.start
  }
}

const kExchange = Symbol('exchange')
type ExchangeStream = Readable & { [kExchange]: Exchange }

function resumeController(this: Readable): void {
  ;(this as ExchangeStream)[kExchange].resume()
}

function destroyExchange(
  this: Readable,
  error: Error | null,
  callback: (error?: Error | null) => void,
): void {
  ;(this as ExchangeStream)[kExchange].abortFromStream(error)
  callback(error)
}
