// One request/response exchange on undici's dispatch API: a handler object (no per-chunk closures) that collects
// the body, or streams it with backpressure, counts download progress, measures timings, and turns every failure
// — cancellation, the deadline, undici and socket errors — into one rejection with a stable code.
//
//   dispatch ─▶ onRequestStart ─▶ onResponseStart ─▶ onResponseData* ─▶ onResponseEnd      (resolve)
//                     └──────────────┴───────────────────┴──── onResponseError / abort / timeout (reject)
import { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { ErrorCodes, HttpError, type WirekitError } from '../errors.ts'
import { startTimer } from '../util/timeout.ts'
import { cancelledError, timeoutError, toHttpError } from './http-errors.ts'
import type { ProgressReporter } from './progress.ts'
import { HttpResponse } from './response.ts'
import { hasNoBody, joinChunks } from './response-body.ts'
import { type ConnectionTimings, expectSendHeaders, forgetSendHeaders } from './timings.ts'
import type { HttpTimings } from './types.ts'

type Controller = Dispatcher.DispatchController
type IncomingHeaders = Record<string, string | string[] | undefined>

/** The body as the exchange hands it over: bytes for buffered responses, a stream for 'stream'. */
export type RawResponse = HttpResponse<Buffer | Readable | undefined>

export type ExchangeOptions = {
  url: URL
  method: string
  stream: boolean
  maxResponseSize: number
  timeout: number | undefined
  signal: AbortSignal | undefined
  progress: ProgressReporter | undefined
}

export class Exchange implements Dispatcher.DispatchHandler {
  readonly promise: Promise<RawResponse>
  readonly #resolve: (response: RawResponse) => void
  readonly #reject: (error: WirekitError) => void
  readonly #options: ExchangeOptions
  readonly #start = performance.now()
  readonly #startWall = Date.now()
  #controller: Controller | null = null
  #history: URL[] | undefined
  #response: RawResponse | undefined
  #chunks: Buffer[] = []
  #length = 0
  #stream: Readable | undefined
  #settled = false
  #failure: WirekitError | undefined
  #cancelTimer: (() => void) | undefined
  #conn: ConnectionTimings | undefined
  #firstByte = 0

  constructor(options: ExchangeOptions) {
    const { promise, resolve, reject } = Promise.withResolvers<RawResponse>()
    this.promise = promise
    this.#resolve = resolve
    this.#reject = reject
    this.#options = options
    if (options.signal !== undefined) {
      if (options.signal.aborted)
        this.#fail(cancelledError(options.method, options.url.href, options.signal.reason))
      else options.signal.addEventListener('abort', this, { once: true })
    }
    if (options.timeout !== undefined)
      this.#cancelTimer = startTimer(options.timeout, () => this.#onTimeout())
  }

  /** True when the request failed before it could be dispatched (already-aborted signal). */
  get failed(): boolean {
    return this.#failure !== undefined
  }

  // --- undici handler -------------------------------------------------------------------------------------------

  onRequestStart(controller: Controller, context: { history?: URL[] } | undefined): void {
    this.#controller = controller
    if (this.#failure !== undefined) {
      controller.abort(this.#failure)
      return
    }
    if (context?.history !== undefined) this.#history = context.history
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
    this.#firstByte = performance.now() - this.#start
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
    const history = this.#history
    const finalURL = history !== undefined && history.length > 0 ? history[history.length - 1].href : url.href
    const redirects = history === undefined ? 0 : Math.max(0, history.length - 1)
    const response: RawResponse = new HttpResponse<Buffer | Readable | undefined>(
      finalURL,
      method,
      status,
      statusText ?? '',
      flat,
      setCookie,
      undefined,
      this.#timings(),
      redirects,
    )
    this.#response = response
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
      this.#cancelTimer?.()
      this.#settle()
      this.#resolve(response)
    }
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
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
    this.#options.progress?.finish()
    const response = this.#response
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

  #onTimeout(): void {
    const { method, url, timeout } = this.#options
    this.#fail(timeoutError(method, url.href, timeout ?? 0))
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
    this.#cancelTimer?.()
    this.#cancelTimer = undefined
    this.#options.signal?.removeEventListener('abort', this)
  }

  // --- timings ------------------------------------------------------------------------------------------------

  #timings(): HttpTimings {
    const conn = this.#conn
    const fresh = conn !== undefined && !conn.claimed
    if (fresh) conn.claimed = true
    return {
      start: this.#startWall,
      dns: fresh ? conn.dns : 0,
      connect: fresh ? conn.connect : 0,
      tls: fresh ? conn.tls : 0,
      firstByte: this.#firstByte,
      total: this.#firstByte,
      reused: !fresh,
    }
  }

  #finishTimings(): void {
    if (this.#response !== undefined) this.#response.timings.total = performance.now() - this.#start
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
