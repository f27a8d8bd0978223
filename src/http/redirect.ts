// Redirects, followed by the session itself rather than by an undici interceptor, so a request that is not redirected
// pays nothing for the feature. Each hop is a new dispatch through the whole chain (plain-HTTP rule, cache — each hop
// cached under its own URL by its own rules —, the caller's dispatch interceptors). The rules are the fetch standard's.
import { ErrorCodes, HttpError } from '../errors.ts'
import type { RequestBody } from './request-body.ts'
import type { HttpResponse } from './response.ts'
import { resolveURL } from './url.ts'

/** Statuses that are followed when they carry a Location (fetch's redirect statuses). */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

/** What one hop sends. */
export type Hop = {
  method: string
  url: URL
  headers: Record<string, string>
  body: RequestBody | undefined
}

// Credentials meant for one origin never travel to another (fetch drops Authorization; undici and browsers also
// drop cookies and proxy credentials).
const CROSS_ORIGIN_DROPPED: readonly string[] = ['authorization', 'cookie', 'proxy-authorization']

/** The headers a cross-origin hop drops: the standard three plus the caller's own credential headers (any case). */
export function crossOriginDropped(extra: readonly string[] | undefined): ReadonlySet<string> {
  const names = new Set(CROSS_ORIGIN_DROPPED)
  for (const name of extra ?? []) names.add(String(name).toLowerCase())
  return names
}

const STANDARD_DROPPED = crossOriginDropped(undefined)

/**
 * The hop that follows `from` after `response` redirected it to `location`, or `undefined` when it cannot be followed
 * (a 307/308 whose stream body cannot be sent again: the 3xx is then the response). A Location that is not an
 * http(s) URL rejects with WK_HTTP_BAD_URL; more than `max` redirects with WK_HTTP_TOO_MANY_REDIRECTS.
 */
export function nextHop(
  from: Hop,
  response: HttpResponse,
  location: string,
  followed: number,
  max: number,
  dropped: ReadonlySet<string> = STANDARD_DROPPED,
): Hop | undefined {
  const status = response.status
  if (followed >= max) {
    throw new HttpError(
      ErrorCodes.HTTP_TOO_MANY_REDIRECTS,
      `Too many redirects (${max}): ${from.method} ${response.url}`,
      { response },
    )
  }
  let url: URL
  try {
    url = resolveURL(location, from.url)
  } catch (error) {
    ;(error as HttpError).response = response
    throw error
  }
  // 303 turns anything but HEAD into a bodiless GET; 301/302 do so for POST, as every browser does.
  const toGet =
    (status === 303 && from.method !== 'HEAD' && from.method !== 'GET') ||
    ((status === 301 || status === 302) && from.method === 'POST')
  if (!toGet && from.body !== undefined && !from.body.replayable) return undefined
  const crossOrigin = url.origin !== from.url.origin
  let headers = from.headers
  if (toGet || crossOrigin) {
    headers = {}
    for (const name of Object.keys(from.headers)) {
      if (toGet && name.startsWith('content-')) continue
      if (crossOrigin && dropped.has(name)) continue
      headers[name] = from.headers[name]
    }
  }
  if (headers.host !== undefined) {
    headers = { ...headers }
    delete headers.host
  }
  return { method: toGet ? 'GET' : from.method, url, headers, body: toGet ? undefined : from.body }
}
