// Response validation, as AFNetworking's response serializers do it: a status outside the acceptable codes, a content
// type outside the acceptable types — each an HttpError carrying the response. (Redirects are the session's: redirect.ts.)
import type { Readable } from 'node:stream'
import { type ErrorCode, ErrorCodes, HttpError } from '../errors.ts'
import type { HttpResponse } from './response.ts'
import { contentTypeAccepted, hasNoBody } from './response-body.ts'
import type { HttpRequestOptions, HttpSessionOptions } from './types.ts'

/** Throws WK_HTTP_STATUS or WK_HTTP_CONTENT_TYPE; returns when the response is acceptable. */
export function validateResponse(
  response: HttpResponse,
  options: HttpRequestOptions,
  session: HttpSessionOptions,
): void {
  const method = response.method
  const acceptable = options.acceptableStatusCodes ?? session.acceptableStatusCodes
  const ok =
    acceptable === undefined
      ? response.status >= 200 && response.status < 300
      : typeof acceptable === 'function'
        ? acceptable(response.status)
        : acceptable.includes(response.status)
  if (!ok) {
    const text = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`
    fail(response, ErrorCodes.HTTP_STATUS, `Request failed with status ${text}: ${method} ${response.url}`)
  }
  const types = options.acceptableContentTypes ?? session.acceptableContentTypes
  if (types !== undefined && response.data !== undefined && !hasNoBody(method, response.status)) {
    const contentType = response.headers['content-type']
    if (!contentTypeAccepted(contentType, types)) {
      fail(
        response,
        ErrorCodes.HTTP_CONTENT_TYPE,
        `Unacceptable content type ${contentType ?? 'none'}: ${method} ${response.url}`,
      )
    }
  }
}

function fail(response: HttpResponse, code: ErrorCode, message: string): never {
  // A streamed body nobody will read must not hold its connection.
  const data = response.data as Readable | undefined
  if (typeof data?.destroy === 'function') data.destroy()
  throw new HttpError(code, message, { response })
}
