// The retry step: when to send a request again, and after how long. Idempotent methods only (by default), replayable
// bodies only, on listed statuses and transient error codes; the delay is the server's Retry-After when it gives one
// (within a cap), else exponential backoff with jitter from the shared helper; the caller's interceptors may overrule.
// It settles the request: the last attempt's response is validated (status, content type) and reported.
import type { Readable } from 'node:stream'
import { ErrorCodes, type WirekitError } from '../../errors.ts'
import { type BackoffOptions, backoffDelay } from '../../util/backoff.ts'
import { delay } from '../../util/timeout.ts'
import { cancelledError } from '../http-errors.ts'
import type { OutgoingRequest } from '../interceptor.ts'
import type { HttpResponse } from '../response.ts'
import type { HttpSessionOptions, RetryOptions } from '../types.ts'
import { validateResponse } from '../validate.ts'
import type { Observer } from './observe.ts'
import type { Step } from './step.ts'

const METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']
const STATUSES = [408, 429, 500, 502, 503, 504]
const ERRORS = ['WK_HTTP_NETWORK', 'WK_HTTP_TIMEOUT']

/** A resolved retry policy. */
export class RetryPolicy {
  readonly limit: number
  readonly maxRetryAfter: number
  readonly #methods: Set<string>
  readonly #statuses: Set<number>
  readonly #errors: Set<string>
  readonly #backoff: BackoffOptions

  constructor(options: RetryOptions | false | undefined) {
    const o = options === false ? { limit: 0 } : (options ?? {})
    this.limit = Math.max(0, Math.floor(o.limit ?? 2))
    this.maxRetryAfter = o.maxRetryAfter ?? 60_000
    this.#methods = new Set((o.methods ?? METHODS).map((m) => m.toUpperCase()))
    this.#statuses = new Set(o.statusCodes ?? STATUSES)
    this.#errors = new Set(o.errorCodes ?? ERRORS)
    this.#backoff = {
      initialDelay: o.initialDelay ?? 200,
      maxDelay: o.maxDelay ?? 10_000,
      factor: o.factor,
      jitter: o.jitter,
    }
  }

  allowsMethod(method: string): boolean {
    return this.limit > 0 && this.#methods.has(method)
  }

  retriesStatus(status: number): boolean {
    return this.#statuses.has(status)
  }

  retriesError(code: string): boolean {
    return this.#errors.has(code)
  }

  /** Backoff before retry number `attempt` (0-based). */
  backoff(attempt: number): number {
    return backoffDelay(attempt, this.#backoff)
  }
}

/** Retry-After as a delay in ms (delta-seconds or an HTTP date); undefined when absent or unparsable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

// Interceptors may retry beyond the policy's limit (a token refresh with retry: false), but never past this.
const MAX_ATTEMPTS = 10

/** Sends each attempt down the pipeline until one is the answer; `fallback` is the session's policy. */
export function retry(observer: Observer, session: HttpSessionOptions, fallback: RetryPolicy): Step {
  return (next) => async (call) => {
    const { prepared } = call
    const { method, options, retry: policy } = prepared
    const replayable = prepared.body === undefined || prepared.body.replayable
    call.observed = observer.active
    for (let attempt = 1; ; attempt++) {
      call.attempt = attempt
      call.outgoing = undefined
      let response: HttpResponse | undefined
      let failure: WirekitError | undefined
      try {
        response = await next(call)
      } catch (error) {
        failure = error as WirekitError
      }
      const outgoing = call.outgoing as OutgoingRequest | undefined
      const url = outgoing?.url ?? call.url
      const canRetry = attempt <= policy.limit && replayable && policy.allowsMethod(method)
      let proposed: number | undefined
      if (canRetry && response !== undefined && policy.retriesStatus(response.status)) {
        const after = parseRetryAfter(response.headers['retry-after'])
        proposed =
          after === undefined
            ? policy.backoff(attempt - 1)
            : after <= policy.maxRetryAfter
              ? after
              : undefined
      } else if (canRetry && failure !== undefined && policy.retriesError(failure.code)) {
        proposed = policy.backoff(attempt - 1)
      }
      let wait = proposed
      if (outgoing !== undefined && replayable && attempt < MAX_ATTEMPTS) {
        wait = await decide(observer, fallback, outgoing, failure, response, proposed)
      }
      const cancelled = options.signal?.aborted === true || failure?.code === ErrorCodes.HTTP_CANCELLED
      if (wait !== undefined && !cancelled && performance.now() + wait < prepared.deadline) {
        if (outgoing !== undefined)
          observer.emit({ type: 'retry', request: outgoing, delay: wait, error: failure, response })
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
        if (outgoing !== undefined) observer.emit({ type: 'error', request: outgoing, error: failure })
        throw failure
      }
      const done = response as HttpResponse
      done.attempts = attempt
      validateResponse(done, options, session)
      if (outgoing !== undefined) observer.emit({ type: 'response', request: outgoing, response: done })
      return done
    }
  }
}

/** The caller's interceptors overrule the policy: the first that answers decides. */
async function decide(
  observer: Observer,
  fallback: RetryPolicy,
  request: OutgoingRequest,
  error: WirekitError | undefined,
  response: HttpResponse | undefined,
  proposedDelay: number | undefined,
): Promise<number | undefined> {
  for (const interceptor of observer.interceptors) {
    if (interceptor.retry === undefined) continue
    const verdict = await interceptor.retry({ request, error, response, proposedDelay })
    if (verdict === undefined) continue
    if (verdict === false) return undefined
    if (verdict === true) return proposedDelay ?? fallback.backoff(request.attempt - 1)
    return Math.max(0, verdict)
  }
  return proposedDelay
}
