// One hop on the wire, the last link of the pipeline (interceptors/step.ts): dispatch it, wait for the response and
// decode its body by the response type. Also the prepared request every step reads.
import type { Dispatcher } from 'undici'
import type { WirekitError } from '../errors.ts'
import type { DeadlineSweep } from './deadlines.ts'
import { Exchange } from './exchange.ts'
import type { RetryPolicy } from './interceptors/retry.ts'
import type { HttpCall, Send } from './interceptors/step.ts'
import { ProgressReporter } from './progress.ts'
import type { RequestBody } from './request-body.ts'
import type { HttpResponse } from './response.ts'
import { decodeBody, hasNoBody } from './response-body.ts'
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

/** What hops need from their session, resolved once. */
export type HopContext = {
  dispatcher: Dispatcher
  deadlines: DeadlineSweep
  maxResponseSize: number
  progressInterval: number
}

/** The bottom of the pipeline: sends one hop and waits for its response, decoded by the response type; a redirect
 * to follow comes back undecoded with `call.location` set (the redirect step decides). */
export function sendHop(context: HopContext): Send {
  return async (call) => {
    const exchange = dispatchHop(context, call)
    const response = (await exchange.promise) as HttpResponse
    call.location = exchange.location
    return call.location === undefined ? decodeResponse(call.prepared, response) : response
  }
}

/** Sends one hop through the dispatcher; the returned exchange settles with its response or failure. */
function dispatchHop(context: HopContext, call: HttpCall): Exchange {
  const { prepared, body, url } = call
  const { options } = prepared
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
    method: call.method,
    stream: prepared.responseType === 'stream',
    maxResponseSize: context.maxResponseSize,
    deadline: prepared.deadline,
    timeout: prepared.timeout,
    sweep: context.deadlines,
    signal: options.signal,
    progress: download,
    start: call.start,
    redirects: call.redirects,
    follow: prepared.maxRedirects > 0,
  })
  if (exchange.failed) return exchange
  const payload = body?.forAttempt(upload) ?? null
  let headers = call.headers
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
      method: call.method,
      headers,
      body: payload as Dispatcher.DispatchOptions['body'],
      // Symbol-keyed options of the steps (the cache's trace): never on the wire.
      ...call.dispatch,
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
