// The session's pipeline, composed in this one place. Each step is a file in interceptors/ and wraps the next, as
// undici's interceptors wrap a dispatch; the last link sends one hop through the session's dispatcher (dispatcher.ts),
// where undici's cache interceptor and the caller's raw dispatchInterceptors sit:
//
//   cache policy ─▶ retry ─▶ observe ─▶ redirect ─▶ security ─▶ hop ─▶ [undici cache ─▶ agent]
//   (deliveries)    (attempts, validation)  (hops)    (plain-HTTP rule)   (dispatcher.ts)
//
// Adding a step is one file in interceptors/ and one line in `steps` below.
import type { HttpCache } from './cache/index.ts'
import { type HopContext, type Prepared, sendHop } from './hop.ts'
import type { HttpInterceptor } from './interceptor.ts'
import { CachePolicyStep, type Settle } from './interceptors/cache-policy.ts'
import { Observer, observe } from './interceptors/observe.ts'
import { redirect } from './interceptors/redirect.ts'
import { type RetryPolicy, retry } from './interceptors/retry.ts'
import { security } from './interceptors/security.ts'
import { callFor, compose, type Send, type Step } from './interceptors/step.ts'
import type { HttpResponse } from './response.ts'
import type { ResponsePromise } from './response-promise.ts'
import type { SecurityPolicy } from './security.ts'
import type { HttpSessionOptions } from './types.ts'

export type PipelineParts = {
  options: HttpSessionOptions
  hop: HopContext
  security: SecurityPolicy
  retry: RetryPolicy
  cache: HttpCache | undefined
  interceptors: readonly HttpInterceptor[]
}

export class Pipeline {
  readonly #send: Send
  readonly #cache: CachePolicyStep | undefined

  constructor(parts: PipelineParts) {
    const observer = new Observer(parts.interceptors)
    const steps: Step[] = [
      retry(observer, parts.options, parts.retry),
      observe(observer),
      redirect,
      security(parts.security),
    ]
    this.#send = compose(steps, sendHop(parts.hop))
    if (parts.cache !== undefined) {
      const fastHits =
        parts.interceptors.length === 0 && (parts.options.dispatchInterceptors ?? []).length === 0
      this.#cache = new CachePolicyStep(parts.cache, this.#send, parts.options, parts.security, fastHits)
    }
  }

  /** Runs a prepared request and settles its ResponsePromise with the first delivery. */
  run<T>(prepared: Prepared, settle: Settle<T>): ResponsePromise<T> {
    if (this.#cache !== undefined) return this.#cache.run(prepared, settle)
    const { promise, resolve, reject } = settle
    const sent = this.#send(callFor(prepared, undefined, undefined)) as Promise<HttpResponse<T>>
    const { onUpdate } = prepared.options
    if (onUpdate === undefined) sent.then(resolve, reject)
    else
      sent.then((response) => {
        onUpdate(response)
        resolve(response)
      }, reject)
    return promise
  }
}
