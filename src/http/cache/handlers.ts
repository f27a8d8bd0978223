// Dispatch handlers around undici's cache interceptor. NetworkHandler sits below it and sees only what the origin
// sent; DeliveryHandler sits above it and sees what the caller gets. Comparing the two tells a stored response from a
// fetched one, and a 304 revalidation from both; a 304 is also where DeliveryHandler freshens the stored entry.
import type { Dispatcher } from 'undici'
import { ErrorCodes, HttpError } from '../../errors.ts'
import { varyWithCredential, withoutCredentialVary } from './credentials.ts'
import type { Trace, TraceOutcome } from './trace.ts'
import { type CacheKey, type CacheStore, UndiciCacheHandler } from './undici-internals.ts'

type Controller = Dispatcher.DispatchController
type Handler = Dispatcher.DispatchHandler
type Headers = Record<string, string | string[] | undefined>

/** Passes every event on to `target`; subclasses override what they change. */
class ForwardingHandler implements Handler {
  protected target: Handler

  constructor(target: Handler) {
    this.target = target
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.target.onRequestStart?.(controller, context)
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Headers, socket: never): void {
    this.target.onRequestUpgrade?.(controller, statusCode, headers, socket)
  }

  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Headers,
    statusMessage?: string,
  ): void {
    this.target.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.target.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: Controller, trailers: Headers): void {
    this.target.onResponseEnd?.(controller, trailers)
  }

  onResponseError(controller: Controller, error: Error): void {
    this.target.onResponseError?.(controller, error)
  }
}

/** Below the cache: records the origin's answer and, for an authorized request, keys the entry on the credential. */
export class NetworkHandler extends ForwardingHandler {
  readonly #trace: Trace | undefined
  readonly #authorized: boolean

  constructor(target: Handler, trace: Trace | undefined, authorized: boolean) {
    super(target)
    this.#trace = trace
    this.#authorized = authorized
  }

  override onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Headers,
    statusMessage?: string,
  ): void {
    const seen = this.#authorized ? { ...headers, vary: varyWithCredential(headers.vary) } : headers
    if (this.#trace) {
      this.#trace.networkStatus = statusCode
      this.#trace.networkHeaders = seen
    }
    this.target.onResponseStart?.(controller, statusCode, seen, statusMessage)
  }
}

export type StoreAccess = { store: CacheStore; key: () => CacheKey }

/** Above the cache: decides the outcome, freshens the entry after a 304, and shapes what the caller receives. */
export class DeliveryHandler extends ForwardingHandler {
  readonly #trace: Trace
  readonly #access: StoreAccess

  constructor(target: Handler, trace: Trace, access: StoreAccess) {
    super(target)
    this.#trace = trace
    this.#access = access
  }

  override onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Headers,
    statusMessage?: string,
  ): void {
    const trace = this.#trace
    if (
      trace.onlyIfCached === true &&
      trace.networkStatus === undefined &&
      statusCode === 504 &&
      Object.keys(headers).length === 0
    ) {
      this.#notCached(controller)
      return
    }
    const outcome = outcomeOf(trace.networkStatus, statusCode)
    trace.outcome = outcome
    const collapse = trace.mode.collapse
    const same =
      collapse !== undefined &&
      (outcome === 'revalidated' || (outcome === 'network' && sameEtag(collapse.etag, headers.etag)))
    if (same) trace.collapsed = true
    this.target = new CallerHandler(this.target, same)

    if (outcome === 'revalidated') {
      // undici serves the old entry after a 304 but does not freshen it (it deletes it when the 304 carries
      // Cache-Control): replay it through undici's own CacheHandler with the 304's headers merged in (RFC 9111 §4.3.4).
      const { store, key } = this.#access
      this.target = new UndiciCacheHandler({ store, type: 'private' }, key(), this.target)
      // undici 8's CacheHandler takes its downstream controller from onRequestStart.
      this.target.onRequestStart?.(controller, {})
      this.target.onResponseStart?.(
        controller,
        statusCode,
        mergeNotModified(headers, trace.networkHeaders),
        statusMessage,
      )
      return
    }
    this.target.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  /**
   * undici answers an only-if-cached miss with a synthetic, header-less 504 that no origin sent. Turn it into a typed
   * error (a 504 would be retried by status and is not the origin's answer).
   */
  override onResponseEnd(controller: Controller, trailers: Headers): void {
    if (this.#trace.outcome !== 'not-cached') this.target.onResponseEnd?.(controller, trailers)
  }

  #notCached(controller: Controller): void {
    this.#trace.outcome = 'not-cached'
    this.target.onResponseError?.(
      controller,
      new HttpError(ErrorCodes.HTTP_NOT_CACHED, 'No cached response (only-if-cached)'),
    )
  }
}

/** What the caller's handler sees: our Vary token removed, and a withheld body shown as a bodiless 304. */
class CallerHandler extends ForwardingHandler {
  readonly #withhold: boolean

  constructor(target: Handler, withhold: boolean) {
    super(target)
    this.#withhold = withhold
  }

  override onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Headers,
    statusMessage?: string,
  ): void {
    const shown = withoutCredentialVary(headers)
    if (this.#withhold) this.target.onResponseStart?.(controller, 304, shown, 'Not Modified')
    else this.target.onResponseStart?.(controller, statusCode, shown, statusMessage)
  }

  override onResponseData(controller: Controller, chunk: Buffer): void {
    if (!this.#withhold) this.target.onResponseData?.(controller, chunk)
  }
}

/** Where the delivered response came from, given the origin's last status (if it was asked) and the delivered one. */
export function outcomeOf(networkStatus: number | undefined, deliveredStatus: number): TraceOutcome {
  if (networkStatus === undefined) return 'cache'
  if (networkStatus === 304 && deliveredStatus !== 304) return 'revalidated'
  if (networkStatus === deliveredStatus) return 'network'
  // The origin failed and undici served the stored response instead (stale-if-error).
  return 'cache'
}

// Fields of a 304 that must not replace the stored response's: they describe the 304 message, not the representation.
const NOT_FROM_304 = new Set([
  'content-length',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'trailer',
  'upgrade',
])

/** The stored headers updated with a 304's (RFC 9111 §3.2), minus what undici added when serving them. */
export function mergeNotModified(served: Headers, notModified: Headers | undefined): Headers {
  const merged: Headers = { ...served }
  delete merged.age
  if (typeof merged.warning === 'string' && merged.warning.startsWith('110')) delete merged.warning
  for (const [name, value] of Object.entries(notModified ?? {})) {
    if (value !== undefined && !NOT_FROM_304.has(name)) merged[name] = value
  }
  return merged
}

function sameEtag(held: string | undefined, fresh: string | string[] | undefined): boolean {
  return typeof held === 'string' && held.length > 2 && held === fresh
}
