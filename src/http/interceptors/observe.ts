// The observe step and the session's observer: each attempt is shown to the caller's interceptors (`adapt` may change
// its URL and headers) and announced as a 'request' event; the retry step reports 'retry', 'error' and 'response'
// through the same observer. Events go to each interceptor's `observe` and to the `wirekit:http:request`
// diagnostics channel. Timings are measured below, by the exchange and the connector.
import { channel } from 'node:diagnostics_channel'
import type { HttpEvent, HttpInterceptor, OutgoingRequest } from '../interceptor.ts'
import type { HttpCall, Send, Step } from './step.ts'

export const requestChannel = channel('wirekit:http:request')

export class Observer {
  readonly interceptors: readonly HttpInterceptor[]

  constructor(interceptors: readonly HttpInterceptor[]) {
    this.interceptors = interceptors
  }

  /** Someone watches requests: the caller's interceptors or a diagnostics subscriber. */
  get active(): boolean {
    return this.interceptors.length > 0 || requestChannel.hasSubscribers
  }

  emit(event: HttpEvent): void {
    for (const interceptor of this.interceptors) {
      try {
        interceptor.observe?.(event)
      } catch {
        // Observers must not change the outcome of a request.
      }
    }
    if (requestChannel.hasSubscribers) requestChannel.publish(event)
  }
}

/** Adapts and announces each attempt of an observed request; an unobserved one passes straight through. */
export function observe(observer: Observer): Step {
  return (next) => (call) => (call.observed ? adapt(observer, call, next) : next(call))
}

async function adapt(observer: Observer, call: HttpCall, next: Send) {
  const outgoing: OutgoingRequest = {
    method: call.method,
    url: call.url,
    headers: { ...call.headers },
    attempt: call.attempt,
  }
  for (const interceptor of observer.interceptors) await interceptor.adapt?.(outgoing)
  call.outgoing = outgoing
  observer.emit({ type: 'request', request: outgoing })
  // The adapted request goes down as a copy: the next attempt adapts the prepared one again.
  return next({ ...call, url: outgoing.url, headers: outgoing.headers })
}
