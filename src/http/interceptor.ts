// Session-level interceptors, in the Alamofire sense: adapt a request before each attempt, decide whether a failed
// attempt is retried, observe what happens. (Raw undici interceptors go in `dispatchInterceptors` instead.)
import type { WirekitError } from '../errors.ts'
import type { HttpResponse } from './response.ts'

/** The request as one attempt will send it; `adapt` may change headers or the URL. */
export type OutgoingRequest = {
  method: string
  url: URL
  /** Lower-case names. */
  headers: Record<string, string>
  /** 1 for the first attempt. */
  attempt: number
}

/** What a retry decision sees: the failed attempt's error or response, and what the policy would do. */
export type RetryContext = {
  request: OutgoingRequest
  error?: WirekitError
  response?: HttpResponse
  /** The built-in policy's answer: a delay in ms, or undefined for "no retry". */
  proposedDelay: number | undefined
}

/** Events for observers (and `wirekit:http:request` subscribers). */
export type HttpEvent =
  | { type: 'request'; request: OutgoingRequest }
  | { type: 'response'; request: OutgoingRequest; response: HttpResponse }
  | { type: 'retry'; request: OutgoingRequest; delay: number; error?: WirekitError; response?: HttpResponse }
  | { type: 'error'; request: OutgoingRequest; error: WirekitError }

export type HttpInterceptor = {
  /** Changes the request before it is sent (each attempt). */
  adapt?(request: OutgoingRequest): void | Promise<void>
  /**
   * Overrides the retry decision: `false` (no retry), `true` (retry after the proposed delay or the backoff), or a
   * delay in ms; `undefined` leaves the decision to the next interceptor, then to the policy.
   */
  retry?(context: RetryContext): boolean | number | undefined | Promise<boolean | number | undefined>
  /** Sees every event; must not throw. */
  observe?(event: HttpEvent): void
}
