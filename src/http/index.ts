// Public exports of the http layer (wirekit/http).
export {
  CACHE_POLICIES,
  type CachedResponseLike,
  type CacheOptions,
  type CachePolicy,
  type CacheStore,
  HttpCache,
} from './cache/index.ts'
export type { HttpEvent, HttpInterceptor, OutgoingRequest, RetryContext } from './interceptor.ts'
export type { MultipartInput, MultipartPart } from './multipart.ts'
export type { QueryInput, QueryOptions, QueryValue } from './query.ts'
export { Reachability, type ReachabilityOptions, type ReachabilityStatus } from './reachability.ts'
export { HttpResponse } from './response.ts'
export { ResponsePromise } from './response-promise.ts'
export { HttpSession } from './session.ts'
export type {
  DownloadOptions,
  DownloadResult,
  DownloadStart,
  HeadersInit,
  HttpMethod,
  HttpProgress,
  HttpRequestOptions,
  HttpSessionOptions,
  HttpTimings,
  ResponseType,
  RetryOptions,
  SecurityOptions,
} from './types.ts'
