// Request URLs: resolution against the session's baseURL (exactly `new URL(input, baseURL)`), the query rule,
// and the refusal of anything that is not http(s). 'users' against 'https://h/v1/' is https://h/v1/users;
// '/users' is https://h/users; a full URL ignores the base.
import { ErrorCodes, HttpError } from '../errors.ts'
import { type QueryInput, type QueryOptions, serializeQuery } from './query.ts'

/** Resolves `input` against `base` and appends `query`; rejects non-http(s) and unparsable URLs with WK_HTTP_BAD_URL. */
export function resolveURL(
  input: string | URL,
  base: URL | undefined,
  query?: QueryInput,
  options?: QueryOptions,
): URL {
  let url: URL
  try {
    url = new URL(input, base)
  } catch (cause) {
    const hint = base === undefined ? ' (relative URL and no baseURL)' : ''
    throw new HttpError(ErrorCodes.HTTP_BAD_URL, `Bad URL: ${String(input)}${hint}`, { cause })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new HttpError(ErrorCodes.HTTP_BAD_URL, `Bad URL: ${url.href} (only http: and https: are supported)`)
  }
  if (url.hostname === '') throw new HttpError(ErrorCodes.HTTP_BAD_URL, `Bad URL: ${url.href} (no host)`)
  if (query !== undefined) {
    const extra = serializeQuery(query, options)
    if (extra !== '') url.search = url.search.length > 1 ? `${url.search}&${extra}` : `?${extra}`
  }
  return url
}

/** Parses a session baseURL once, so a bad one fails at construction. */
export function parseBaseURL(base: string | URL | undefined): URL | undefined {
  if (base === undefined) return undefined
  return resolveURL(base, undefined)
}
