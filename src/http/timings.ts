// Per-request timings. Connection phases (dns, connect, tls) are measured on the socket by the session's connector
// and kept in a WeakMap; undici's `undici:client:sendHeaders` channel says which socket a request went out on.
// undici calls the handler's onRequestStart and then publishes sendHeaders in the same synchronous step, so the
// exchange that started last is the one the message belongs to: no per-request lookup table is needed.
import { subscribe } from 'node:diagnostics_channel'

/** Phase durations of one connection, claimed by the first request sent on it. */
export type ConnectionTimings = { dns: number; connect: number; tls: number; claimed: boolean }

/** Something that wants to know which connection its request went out on. */
export type TimingTarget = { onConnection(timings: ConnectionTimings | undefined): void }

const connections = new WeakMap<object, ConnectionTimings>()
let pending: TimingTarget | undefined
let subscribed = false

/** Records the phases of a connection the session opened. */
export function recordConnection(socket: object, timings: ConnectionTimings): void {
  connections.set(socket, timings)
}

/** Called from onRequestStart: the next sendHeaders message is this target's. */
export function expectSendHeaders(target: TimingTarget): void {
  if (!subscribed) {
    subscribed = true
    subscribe('undici:client:sendHeaders', onSendHeaders)
  }
  pending = target
}

/** Called once headers arrived: a target served without the network (a cache hit) must not catch a later message. */
export function forgetSendHeaders(target: TimingTarget): void {
  if (pending === target) pending = undefined
}

function onSendHeaders(message: unknown): void {
  const target = pending
  if (target === undefined) return
  pending = undefined
  target.onConnection(connections.get((message as { socket: object }).socket))
}
