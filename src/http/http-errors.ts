// Translation of what undici and Node report (UND_ERR_*, errno codes, TLS verify codes) into HttpError with a
// stable WK_HTTP_* code, the request it belongs to in the message, and the original error as `cause`.
import { type ErrorCode, ErrorCodes, HttpError, isWirekitError, type WirekitError } from '../errors.ts'
import { HttpResponse } from './response.ts'

// Certificate verification failures reported by OpenSSL / node:tls.
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
])

const TIMEOUTS = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
])

// 'Proxy response (407) !== 200 when HTTP Tunneling' (CONNECT) and 'Proxy Authentication Required (407)' (forwarding).
const PROXY_AUTH = /^Proxy (response \(407\)|Authentication Required \(407\))/

function noTimings(): HttpResponse['timings'] {
  return { start: Date.now(), dns: 0, connect: 0, tls: 0, firstByte: 0, total: 0, reused: false }
}

/** Where the exchange was when it failed: decides between "network" and "truncated body". */
export type FailurePhase = 'request' | 'body'

/** Wraps any failure of `method url` into an HttpError (WirekitErrors pass through unchanged). */
export function toHttpError(error: unknown, method: string, url: string, phase: FailurePhase): WirekitError {
  if (isWirekitError(error)) return error
  const code = codeOf(error)
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause
  const nested = typeof cause?.code === 'string' ? cause.code : undefined
  const what = `${method} ${url}`
  if (code === 'UND_ERR_HEADERS_OVERFLOW') {
    return fail(ErrorCodes.HTTP_HEADERS_TOO_LARGE, `Response headers too large: ${what}`, error)
  }
  if (TIMEOUTS.has(code)) return fail(ErrorCodes.HTTP_TIMEOUT, `Request timed out (${code}): ${what}`, error)
  if (UNTRUSTED.has(code) || (nested !== undefined && UNTRUSTED.has(nested))) {
    return fail(
      ErrorCodes.HTTP_TLS_UNTRUSTED,
      `TLS certificate not trusted (${nested ?? code}): ${what}`,
      error,
    )
  }
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
    return fail(ErrorCodes.HTTP_BODY, `Body length does not match Content-Length: ${what}`, error)
  }
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE')
    return fail(ErrorCodes.HTTP_BODY, `Response too large: ${what}`, error)
  // undici reports a proxy's 407 as an aborted tunnel (or, without tunnelling, an invalid argument): it is a status
  // answer to this request, and retrying it cannot help, so it becomes WK_HTTP_STATUS with the 407 as the response.
  if (error instanceof Error && PROXY_AUTH.test(error.message)) {
    const response = new HttpResponse(
      url,
      method,
      407,
      'Proxy Authentication Required',
      {},
      [],
      undefined,
      noTimings(),
      0,
    )
    return new HttpError(ErrorCodes.HTTP_STATUS, `Proxy authentication required (407): ${what}`, {
      cause: error,
      response,
    })
  }
  if (error instanceof Error && error.message.startsWith('Redirect loop')) {
    return fail(ErrorCodes.HTTP_TOO_MANY_REDIRECTS, `Redirect loop: ${what}`, error)
  }
  if (phase === 'body')
    return fail(ErrorCodes.HTTP_BODY, `Response body cut short (${code || 'closed'}): ${what}`, error)
  return fail(ErrorCodes.HTTP_NETWORK, `Network error (${code || (error as Error)?.message}): ${what}`, error)
}

function fail(code: ErrorCode, message: string, cause: unknown): HttpError {
  return new HttpError(code, message, { cause })
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? code : ''
}

/** The error a cancelled request rejects with (iOS's NSURLErrorCancelled, -999). */
export function cancelledError(method: string, url: string, reason: unknown): HttpError {
  return new HttpError(ErrorCodes.HTTP_CANCELLED, `Request cancelled: ${method} ${url}`, { cause: reason })
}

/** The error of a request that ran past its `timeout`. */
export function timeoutError(method: string, url: string, ms: number): HttpError {
  return new HttpError(ErrorCodes.HTTP_TIMEOUT, `Request timed out after ${ms} ms: ${method} ${url}`)
}
