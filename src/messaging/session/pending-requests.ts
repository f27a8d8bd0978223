// Requests this side has sent and is waiting on: paired with their response by id, rejected on timeout
// (checked by the owner's clock: in Node the shared deadline sweeper, no timer per request), abort, or the
// end of the session.

import {
  AbortError,
  ErrorCodes,
  errorFor,
  isErrorCode,
  MessagingError,
  TimeoutError,
  type WirekitError,
} from '../../errors.ts'
import type { Clock, Sweepable } from './clock.ts'

type PendingRequest = {
  resolve: (value: unknown) => void
  reject: (error: Error) => void
  method: string
  /** Sequence number of the request message: tells whether it was ever written (session lost). */
  seq: number
  /** Absolute deadline in ms, 0 for none. */
  deadline: number
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

const MAX_REQUEST_ID = 0xffff_ffff

export class PendingRequests implements Sweepable {
  #map = new Map<number, PendingRequest>()
  #nextId = 1
  #swept = false
  readonly #clock: Clock

  constructor(clock: Clock) {
    this.#clock = clock
  }

  get size(): number {
    return this.#map.size
  }

  /** A fresh request id (1..2³²−1, wrapping). */
  nextId(): number {
    const id = this.#nextId
    this.#nextId = id === MAX_REQUEST_ID ? 1 : id + 1
    return id
  }

  /** Skips the ids up to `id` (requests restored from a stored session may still be answered). */
  reserve(id: number): void {
    if (id >= this.#nextId && id < MAX_REQUEST_ID) this.#nextId = id + 1
  }

  /** Waits for the response to request `id`. `timeout` ≤ 0 or Infinity: no deadline. */
  add(
    id: number,
    method: string,
    seq: number,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const pending: PendingRequest = {
        resolve,
        reject,
        method,
        seq,
        deadline: timeout > 0 && timeout !== Number.POSITIVE_INFINITY ? this.#clock.now() + timeout : 0,
        signal,
        onAbort: undefined,
      }
      if (signal !== undefined) {
        pending.onAbort = () => this.settle(id, abortError(method, signal), undefined)
        signal.addEventListener('abort', pending.onAbort, { once: true })
      }
      this.#map.set(id, pending)
      if (pending.deadline !== 0 && !this.#swept) {
        this.#swept = true
        this.#clock.watch(this)
      }
    })
  }

  methodOf(id: number): string {
    return this.#map.get(id)?.method ?? '?'
  }

  /** Completes request `id` (a late response to a timed-out request is ignored). */
  settle(id: number, error: Error | undefined, value: unknown): void {
    const pending = this.#map.get(id)
    if (pending === undefined) return
    this.#map.delete(id)
    if (pending.onAbort !== undefined) pending.signal!.removeEventListener('abort', pending.onAbort)
    if (error === undefined) pending.resolve(value)
    else pending.reject(error)
  }

  /** Rejects the requests written up to `sentUpTo` (all of them with `all`). */
  fail(error: (method: string) => Error, sentUpTo: number, all: boolean): void {
    for (const [id, request] of this.#map) {
      if (all || request.seq <= sentUpTo) this.settle(id, error(request.method), undefined)
    }
  }

  /** Follows carried-over request messages that were given new sequence numbers. */
  renumber(map: Map<number, number>): void {
    for (const request of this.#map.values()) request.seq = map.get(request.seq) ?? request.seq
  }

  sweep(now: number): void {
    for (const [id, request] of this.#map) {
      if (request.deadline !== 0 && now >= request.deadline) {
        const { method } = request
        this.settle(
          id,
          new TimeoutError(ErrorCodes.REQUEST_TIMEOUT, `Request "${method}" timed out`, { method }),
          undefined,
        )
      }
    }
    if (this.#map.size === 0) {
      this.#swept = false
      this.#clock.unwatch(this)
    }
  }
}

/** The error a caller sees for an ERROR response: the remote handler's failure, or a framework refusal. */
export function remoteError(method: string, payload: unknown): WirekitError {
  const p = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>
  const message = typeof p.message === 'string' ? p.message : 'unknown error'
  const code = typeof p.code === 'string' ? p.code : undefined
  if (p.remote === false && isErrorCode(code)) {
    return errorFor(code, `Request "${method}" failed: ${message}`, { method })
  }
  return new MessagingError(ErrorCodes.REMOTE_ERROR, `Remote handler for "${method}" failed: ${message}`, {
    method,
    remoteMessage: message,
    remoteCode: code,
  })
}

export function abortError(method: string, signal: AbortSignal): Error {
  return new AbortError(ErrorCodes.ABORTED, `Request "${method}" aborted`, { cause: signal.reason, method })
}
