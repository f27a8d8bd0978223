// One attempt of a request: dispatch it, follow redirects hop by hop (redirect.ts), wait for the response and decode
// its body by the response type. Retries, interceptors and validation are the session's; this is one try on the wire.
import type { Dispatcher } from 'undici'
import type { WirekitError } from '../errors.ts'
import type { DeadlineSweep } from './deadlines.ts'
import { Exchange } from './exchange.ts'
import { timeoutError } from './http-errors.ts'
import { ProgressReporter } from './progress.ts'
import { type Hop, nextHop } from './redirect.ts'
import type { RequestBody } from './request-body.ts'
import type { HttpResponse } from './response.ts'
import { decodeBody, hasNoBody } from './response-body.ts'
import type { RetryPolicy } from './retry.ts'
import type { SecurityPolicy } from './security.ts'
import type { HttpRequestOptions, ResponseType } from './types.ts'

/** One request after preparation: everything each attempt needs. */
export type Prepared = {
  method: string
  url: URL
  headers: Record<string, string>
  body: RequestBody | undefined
  options: HttpRequestOptions
  responseType: ResponseType
  retry: RetryPolicy
  /** The whole request's timeout in ms (0 or Infinity: none) and the instant it runs out (`performance.now()`). */
  timeout: number
  deadline: number
  maxRedirects: number
  /** Request headers dropped when a redirect leaves the origin. */
  crossOriginDropped: ReadonlySet<string>
}

/** What attempts need from their session, resolved once. */
export type AttemptContext = {
  dispatcher: Dispatcher
  policy: SecurityPolicy
  deadlines: DeadlineSweep
  maxResponseSize: number
  progressInterval: number
}

/** One attempt: dispatch each hop (following redirects), wait for the response, decode it. `extra` is spread into
 * every hop's dispatch options. */
export async function attempt(
  context: AttemptContext,
  prepared: Prepared,
  url: URL,
  headers: Record<string, string>,
  extra?: object,
): Promise<HttpResponse> {
  const { method } = prepared
  const start = performance.now()
  if (prepared.deadline <= start) throw timeoutError(method, url.href, prepared.timeout)
  let hop: Hop = { method, url, headers, body: prepared.body }
  for (let redirects = 0; ; redirects++) {
    const exchange = dispatchHop(context, prepared, hop, start, redirects, extra)
    const response = (await exchange.promise) as HttpResponse
    const location = exchange.location
    if (location === undefined) return decodeResponse(prepared, response)
    const next = nextHop(
      hop,
      response,
      location,
      redirects,
      prepared.maxRedirects,
      prepared.crossOriginDropped,
    )
    // A 307/308 whose stream body cannot be sent again is the response (its body was discarded).
    if (next === undefined) return response
    context.policy.checkTransport(next.url.protocol, next.url.hostname, next.url.href)
    hop = next
  }
}

/** Sends one hop through the dispatcher; the returned exchange settles with its response or failure. */
function dispatchHop(
  context: AttemptContext,
  prepared: Prepared,
  hop: Hop,
  start: number,
  redirects: number,
  extra: object | undefined,
): Exchange {
  const { options } = prepared
  const { body, url } = hop
  const interval = context.progressInterval
  const upload =
    options.onUploadProgress !== undefined && body !== undefined
      ? new ProgressReporter(options.onUploadProgress, body.length, interval)
      : undefined
  const download =
    options.onDownloadProgress !== undefined
      ? new ProgressReporter(options.onDownloadProgress, undefined, interval)
      : undefined
  const exchange = new Exchange({
    url,
    method: hop.method,
    stream: prepared.responseType === 'stream',
    maxResponseSize: context.maxResponseSize,
    deadline: prepared.deadline,
    timeout: prepared.timeout,
    sweep: context.deadlines,
    signal: options.signal,
    progress: download,
    start,
    redirects,
    follow: prepared.maxRedirects > 0,
  })
  if (exchange.failed) return exchange
  const payload = body?.forAttempt(upload) ?? null
  let headers = hop.headers
  if (
    body?.length !== undefined &&
    payload !== null &&
    typeof payload !== 'string' &&
    !(payload instanceof Uint8Array)
  ) {
    headers = { ...headers, 'content-length': String(body.length) }
  }
  context.dispatcher.dispatch(
    {
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: hop.method,
      headers,
      body: payload as Dispatcher.DispatchOptions['body'],
      // Symbol-keyed options of the layers (the cache's trace): never on the wire.
      ...extra,
    },
    exchange,
  )
  return exchange
}

/** Turns the collected bytes into `data` as the response type says (streamed bodies stay streams). */
export function decodeResponse(prepared: Prepared, response: HttpResponse): HttpResponse {
  const { responseType } = prepared
  const empty = hasNoBody(response.method, response.status)
  if (responseType === 'stream' && !empty) return response
  if (empty) {
    response.data = undefined
    return response
  }
  try {
    response.data = decodeBody(response.data as Buffer, responseType, response.headers['content-type'])
  } catch (error) {
    ;(error as WirekitError).response = response
    throw error
  }
  return response
}
