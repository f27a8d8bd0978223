// Public option and result types of the HTTP session: what a caller passes to `new HttpSession()`,
// to each request and to `download()`, and what comes back. Behaviour lives elsewhere; this file is the vocabulary.
import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { BackoffOptions } from '../util/backoff.ts'
import type { CacheOptions, CachePolicy } from './cache/index.ts'
import type { HttpInterceptor } from './interceptor.ts'
import type { MultipartInput } from './multipart.ts'
import type { QueryInput, QueryOptions } from './query.ts'
import type { HttpResponse } from './response.ts'

export type { HttpTimings } from './response.ts'

/** How the response body becomes `res.data`. `'auto'` decides by Content-Type (JSON → parsed, text → string, else bytes). */
export type ResponseType = 'auto' | 'json' | 'text' | 'bytes' | 'stream'

/** An HTTP method; the common ones autocomplete. */
export type HttpMethod =
  | 'GET'
  | 'HEAD'
  | 'POST'
  | 'PUT'
  | 'PATCH'
  | 'DELETE'
  | 'OPTIONS'
  | 'TRACE'
  | (string & {})

/**
 * Headers as fetch takes them: a plain object (`undefined` values dropped, an array value repeats the name), a
 * `Headers` instance, or a list of `[name, value]` pairs (a repeated name is kept). Names are case-insensitive.
 * @example [['accept', 'application/json'], ['x-tag', 'a'], ['x-tag', 'b']]
 */
export type HeadersInit =
  | Record<string, string | string[] | number | undefined>
  | Headers
  | Iterable<readonly [string, string]>

/** Progress of an upload or a download. Reported at most every `progressInterval` ms, and always once at the end. */
export type HttpProgress = {
  /** Bytes transferred so far. */
  done: number
  /** Bytes expected in all, when known (Content-Length, a known body size). */
  total: number | undefined
}

/** Security policy of a session: certificate validation, pinning and the plain-HTTP (ATS-like) rule. */
export type SecurityOptions = {
  /**
   * SHA-256 SPKI pins, `sha256/<base64>`: a list for every https host, or a map from host name (exact, or `*.example.com`)
   * to its pins. A connection is accepted when any certificate in the presented chain matches a pin of its host.
   * @default undefined (no pinning)
   * @example { 'api.example.com': ['sha256/AAAA…=', 'sha256/BBBB…='] }
   */
  pins?: string[] | Record<string, string[]>
  /** Accept certificates that do not chain to a trusted CA (expired, self-signed). For local development only. @default false */
  allowInvalidCertificates?: boolean
  /** Check that the certificate is for the host being contacted. @default true */
  validatesDomainName?: boolean
  /**
   * Plain `http://` is refused (WK_HTTP_INSECURE) unless allowed: `true` for every host, or a list of host names.
   * Loopback hosts are allowed regardless unless `allowInsecureLoopback` is false.
   * @default false
   */
  allowInsecureHTTP?: boolean | string[]
  /** Allow plain http:// to localhost, *.localhost, 127.0.0.0/8 and ::1: that traffic never leaves the machine. @default true */
  allowInsecureLoopback?: boolean
}

/** Retry policy. Retries happen only for replayable bodies. */
export type RetryOptions = BackoffOptions & {
  /** Retries after the first attempt. @default 2 */
  limit?: number
  /** Methods that may be retried. @default ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE'] */
  methods?: string[]
  /** Statuses that trigger a retry. @default [408, 429, 500, 502, 503, 504] */
  statusCodes?: number[]
  /** Error codes that trigger a retry. @default ['WK_HTTP_NETWORK', 'WK_HTTP_TIMEOUT'] (timeouts of one attempt, not of the whole request) */
  errorCodes?: string[]
  /** A Retry-After longer than this (ms) is not waited for: the response is returned/failed at once. @default 60_000 */
  maxRetryAfter?: number
}

/** Options of a session; each also applies per request where it makes sense. */
export type HttpSessionOptions = {
  /** Base URL that relative request URLs resolve against, as `new URL(path, baseURL)` does (mind the trailing slash). */
  baseURL?: string | URL
  /** Headers sent with every request; request headers override them. */
  headers?: HeadersInit
  /** Deadline of a whole request, in ms, retries included (for streamed bodies: until the headers). @default 30_000 */
  timeout?: number
  /** Deadline of a TCP + TLS connect, in ms. @default 10_000 */
  connectTimeout?: number
  /** Longest silence while a body streams, in ms. @default 30_000 */
  bodyTimeout?: number
  /** Keep-alive connections per origin. @default 64 */
  connections?: number
  /** Negotiate HTTP/2 through ALPN where the server offers it. @default true */
  allowH2?: boolean
  /** Largest response header block, in bytes (WK_HTTP_HEADERS_TOO_LARGE past it). @default 16_384 */
  maxHeaderSize?: number
  /** Largest buffered response body, in bytes (WK_HTTP_BODY past it). Streams and downloads are not limited. @default 64 MiB */
  maxResponseSize?: number
  /**
   * Redirects (301, 302, 303, 307, 308 with a Location) followed before WK_HTTP_TOO_MANY_REDIRECTS; 0 returns 3xx
   * responses as they are. 303 (and 301/302 after a POST) continue as a bodiless GET; Authorization, Cookie and
   * Proxy-Authorization are dropped when the origin changes; a 307/308 with a stream body is not followed.
   * @default 5
   */
  maxRedirects?: number
  /**
   * Your own credential headers (API keys, session tokens): dropped, like Authorization, Cookie and
   * Proxy-Authorization always are, when a redirect leads to another origin (scheme, host or port).
   * @default [] (only the three standard ones)
   * @example ['x-api-key', 'x-session-token']
   */
  credentialHeaders?: string[]
  /** Extra trusted CA certificates (PEM), added to the system roots. */
  ca?: string | Buffer | Array<string | Buffer>
  /** A client certificate and key (PEM) for mutual TLS. */
  cert?: string | Buffer
  key?: string | Buffer
  /**
   * HTTP proxy URL; credentials in it (`http://user:pass@host:port`, percent-encoded) are sent as Basic
   * Proxy-Authorization. Every request goes through a CONNECT tunnel. A 407 answer is WK_HTTP_STATUS (status 407).
   */
  proxy?: string | URL
  security?: SecurityOptions
  /** Retry policy; `false` disables retries. @default { limit: 2 } */
  retry?: RetryOptions | false
  /** Private HTTP cache (memory or SQLite) with per-request policies. @default undefined (no cache) */
  cache?: CacheOptions
  /** Session-level interceptors, run in order: adapt requests, decide retries, observe events. */
  interceptors?: HttpInterceptor[]
  /**
   * Raw undici interceptors composed onto the session's Agent (outermost last). The session follows redirects above
   * them, so they see each hop as its own dispatch; the plain-HTTP rule still applies to whatever they dispatch.
   */
  dispatchInterceptors?: Dispatcher.DispatcherComposeInterceptor[]
  /** Statuses accepted without error. @default 200–299 */
  acceptableStatusCodes?: number[] | ((status: number) => boolean)
  /** Content types accepted without error (`application/json`, `text/*`, `*\/*`); empty bodies always pass. @default any */
  acceptableContentTypes?: string[]
  /** How arrays and nested objects in `query` become a query string. */
  query?: QueryOptions
  /** Least time between two progress reports, in ms. @default 100 */
  progressInterval?: number
}

/** Options of one request. Body options (`json`, `form`, `multipart`, `body`) are mutually exclusive. */
export type HttpRequestOptions = {
  method?: HttpMethod
  headers?: HeadersInit
  /** Query parameters appended to the URL's own; see query.ts for the rule on arrays and nesting. */
  query?: QueryInput
  /** A value sent as JSON (`content-type: application/json`). */
  json?: unknown
  /** Fields sent as `application/x-www-form-urlencoded`. */
  form?: QueryInput | URLSearchParams
  /** Parts sent as `multipart/form-data`, streamed (files are never read into memory). */
  multipart?: MultipartInput
  /** A raw body; set `content-type` yourself. Streams are sent as they are read (and are not retried). */
  body?: string | Uint8Array | Blob | Readable | AsyncIterable<Uint8Array>
  responseType?: ResponseType
  signal?: AbortSignal
  timeout?: number
  retry?: RetryOptions | false
  acceptableStatusCodes?: HttpSessionOptions['acceptableStatusCodes']
  acceptableContentTypes?: string[]
  maxRedirects?: number
  /** Replaces the session's `credentialHeaders` for this request. */
  credentialHeaders?: string[]
  onUploadProgress?: (progress: HttpProgress) => void
  onDownloadProgress?: (progress: HttpProgress) => void
  /** Cache policy for this request (needs a session cache). @default the cache's policy, else 'http' */
  cachePolicy?: CachePolicy
  /** Called with every delivered response: once, or cached-then-fresh under 'cache-then-network'. */
  onUpdate?: (response: HttpResponse) => void
}

/** Options of `download()`. */
export type DownloadOptions = Omit<
  HttpRequestOptions,
  'responseType' | 'onDownloadProgress' | 'cachePolicy' | 'onUpdate'
> & {
  /** Destination path. The body goes to `<to>.download` first and is renamed once complete and of the right length. */
  to: string
  /** Keep an interrupted partial file and continue it with Range + If-Range next time. @default false */
  resume?: boolean
  onProgress?: (progress: HttpProgress) => void
  /**
   * Called once the response headers are in, before the first body byte is written: where the transfer starts and,
   * when a partial file could not be continued (the server ignored Range or the resource changed), what was dropped.
   */
  onStart?: (start: DownloadStart) => void
}

/** What `onStart` of a download is told. */
export type DownloadStart = {
  /** Bytes already on disk that are kept (the Range request was honoured); 0 for a transfer from the beginning. */
  resumedFrom: number
  /** Size of the complete file, when the server said. */
  total: number | undefined
  /** Bytes of a partial file that had to be dropped because the server sent the whole resource again. */
  discarded: number
}

/** What `download()` resolves to. */
export type DownloadResult = {
  /** The final path (`to`). */
  path: string
  /** Size of the complete file. */
  bytes: number
  /** Bytes that were already on disk and kept (0 for a fresh download). */
  resumedFrom: number
  response: HttpResponse<Readable | undefined>
}
