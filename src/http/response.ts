// The response object every request resolves to (and every HttpError carries as `response`).
// A class rather than an object literal so every response shares one shape. It imports nothing of the session's
// vocabulary (types.ts imports it), so the type graph has no cycle.

/**
 * Phase durations of one request, in ms (fractional). `dns`, `connect` and `tls` are 0 when the request reused a
 * pooled connection (`reused: true`) or when the phase did not happen (an IP literal needs no DNS, http has no TLS).
 */
export type HttpTimings = {
  /** Wall-clock time the request started (epoch ms). */
  start: number
  dns: number
  connect: number
  tls: number
  /** From the start of the request to the response headers. */
  firstByte: number
  /** From the start of the request to the last body byte (to the headers for streamed bodies). */
  total: number
  /** True when the request ran on a keep-alive connection opened earlier. */
  reused: boolean
}

export class HttpResponse<T = unknown> {
  /** Final URL, after redirects. */
  readonly url: string
  readonly method: string
  readonly status: number
  readonly statusText: string
  /** Lower-case names; repeated headers joined with ', ' (set-cookie too: see `setCookie`). */
  readonly headers: Record<string, string>
  /** Each Set-Cookie header on its own. */
  readonly setCookie: string[]
  /** The body, as `responseType` (or the Content-Type) says; `undefined` for an empty body. */
  data: T
  readonly timings: HttpTimings
  /** Redirects followed to get here. */
  readonly redirects: number
  /** Attempts made (1 when the first one succeeded). */
  attempts = 1
  /** True when the cache delivered this response without a network round trip. */
  fromCache = false
  /** Set by the cache on a second delivery that matches the first (304 or same ETag): nothing new. */
  notModified?: boolean

  constructor(
    url: string,
    method: string,
    status: number,
    statusText: string,
    headers: Record<string, string>,
    setCookie: string[],
    data: T,
    timings: HttpTimings,
    redirects: number,
  ) {
    this.url = url
    this.method = method
    this.status = status
    this.statusText = statusText
    this.headers = headers
    this.setCookie = setCookie
    this.data = data
    this.timings = timings
    this.redirects = redirects
  }

  /** True for 2xx. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300
  }
}
