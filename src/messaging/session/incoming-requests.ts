// Requests the peer makes of this side: a handler runs once per request id, its value or its throw
// becomes the response; bounded by the core's maxHandling (a server bounds what one client can make it
// do), timed on the `wirekit:messaging:handler` channel only while someone listens.

import { ErrorCodes, ProtocolError } from '../../errors.ts'
import { handlerChannel } from '../channels.ts'
import type { SessionCore } from './core.ts'

/** A request handler: its return value (or resolved value) is the response; a throw reaches the caller. */
// biome-ignore lint/suspicious/noExplicitAny: handlers receive whatever the remote sent
export type RequestHandler<Context> = (data: any, context: Context) => unknown

export function runRequest(core: SessionCore, id: number, method: string, data: unknown): void {
  if (core.running?.has(id)) {
    throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: request id ${id} is still being handled`)
  }
  if (core.handling >= core.profile.maxHandling) {
    core.respondError(
      id,
      ErrorCodes.BACKPRESSURE,
      `"${method}" refused: ${core.handling} requests of this client are being handled already`,
      false,
    )
    return
  }
  const handler = core.host.handlerFor(method)
  if (handler === undefined) {
    core.respondError(id, ErrorCodes.NO_HANDLER, `no handler for "${method}"`, false)
    return
  }
  // Timed only while a metrics registry (or anyone) subscribes: one property read otherwise.
  const started = handlerChannel.hasSubscribers ? performance.now() : -1
  let result: unknown
  try {
    result = handler(data, core.context)
  } catch (error) {
    if (started >= 0) handled(core, method, started, false)
    respondThrown(core, id, error)
    return
  }
  if (result instanceof Promise) {
    core.handling++
    const running = (core.running ??= new Set())
    running.add(id)
    result.then(
      (value) => {
        finished(core, id)
        if (started >= 0) handled(core, method, started, true)
        core.respond(id, value)
      },
      (error) => {
        finished(core, id)
        if (started >= 0) handled(core, method, started, false)
        respondThrown(core, id, error)
      },
    )
  } else {
    if (started >= 0) handled(core, method, started, true)
    core.respond(id, result)
  }
}

function handled(core: SessionCore, method: string, started: number, ok: boolean): void {
  handlerChannel.publish({ session: core.context, method, ms: performance.now() - started, ok })
}

function finished(core: SessionCore, id: number): void {
  core.handling--
  const running = core.running
  if (running === undefined) return
  running.delete(id)
  // An idle session keeps no set.
  if (running.size === 0) core.running = undefined
}

function respondThrown(core: SessionCore, id: number, error: unknown): void {
  const e = error as { message?: unknown; code?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(error)
  core.respondError(id, typeof e?.code === 'string' ? e.code : ErrorCodes.REMOTE_ERROR, message, true)
}
