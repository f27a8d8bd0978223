// When to send a request again, and after how long: idempotent methods only (by default), replayable bodies only,
// on listed statuses and transient error codes; the delay is the server's Retry-After when it gives one (within a
// cap), else exponential backoff with jitter from the shared helper.
import { type BackoffOptions, backoffDelay } from '../util/backoff.ts'
import type { RetryOptions } from './types.ts'

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
