// The shape of the session's pipeline, in undici's style: a step wraps the next one (`(next) => send`), and the
// pipeline is the steps composed over the one thing that touches the wire (hop.ts). A new behaviour is a new step.
//
//   cache policy ─▶ retry ─▶ observe ─▶ redirect ─▶ security ─▶ hop (dispatch → undici cache → agent)
import type { Prepared } from '../hop.ts'
import type { OutgoingRequest } from '../interceptor.ts'
import type { RequestBody } from '../request-body.ts'
import type { HttpResponse } from '../response.ts'

/** One request on its way down the pipeline. A step sets its own fields on the call it is given; a step that changes
 * what is sent (observe's adapted request, each redirect hop) passes a copy down, so an attempt starts from the
 * prepared request again. */
export type HttpCall = {
  readonly prepared: Prepared
  method: string
  url: URL
  /** Lower-case names: the prepared headers plus what a step above added (the cache's directives). */
  headers: Record<string, string>
  body: RequestBody | undefined
  /** Symbol-keyed dispatch options of the steps (the cache's trace), spread into every hop's dispatch: never sent. */
  dispatch: object | undefined
  /** 1 for the first attempt (set by retry). */
  attempt: number
  /** When the attempt started (`performance.now()`): timings of a redirected request span every hop. */
  start: number
  /** Redirects followed before this hop. */
  redirects: number
  /** The caller's interceptors or a diagnostics subscriber watch this request (decided once, by retry). */
  observed: boolean
  /** The attempt as the caller's interceptors saw and adapted it (observe), when observed. */
  outgoing: OutgoingRequest | undefined
  /** Set by the hop when the response is a redirect to follow (its body discarded). */
  location: string | undefined
}

export type Send = (call: HttpCall) => Promise<HttpResponse>
export type Step = (next: Send) => Send

/** The steps over `last`, outermost first. */
export function compose(steps: readonly Step[], last: Send): Send {
  let send = last
  for (let i = steps.length - 1; i >= 0; i--) send = steps[i](send)
  return send
}

/** A fresh call for `prepared`, with the headers and dispatch options a step above adds. */
export function callFor(
  prepared: Prepared,
  extraHeaders: Record<string, string> | undefined,
  dispatch: object | undefined,
): HttpCall {
  return {
    prepared,
    method: prepared.method,
    url: prepared.url,
    headers: extraHeaders === undefined ? prepared.headers : { ...prepared.headers, ...extraHeaders },
    body: prepared.body,
    dispatch,
    attempt: 1,
    start: 0,
    redirects: 0,
    observed: false,
    outgoing: undefined,
    location: undefined,
  }
}
