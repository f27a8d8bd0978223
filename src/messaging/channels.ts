// diagnostics_channel publishers of the messaging layer. Subscribers see resends, session ends and
// slow consumers without a logger in the core; `NODE_DEBUG=wirekit` prints the same through debuglog.

import diagnostics from 'node:diagnostics_channel'
import { debuglog } from 'node:util'

export const resendChannel = diagnostics.channel('wirekit:messaging:resend')
export const sessionChannel = diagnostics.channel('wirekit:messaging:session')
export const slowConsumerChannel = diagnostics.channel('wirekit:messaging:slowConsumer')
/** A peer went over its inbound rate limit: { peer, action: 'throttle' | 'disconnect' }. */
export const rateLimitChannel = diagnostics.channel('wirekit:messaging:rateLimited')
/** A request handler finished: { session, method, ms, ok }. Timed only while someone subscribes. */
export const handlerChannel = diagnostics.channel('wirekit:messaging:handler')
/** An error no caller can be told of: { error, peer }. */
export const errorChannel = diagnostics.channel('wirekit:messaging:error')

export const debug = debuglog('wirekit')

/** A resumed session is replaying `count` unacknowledged messages. */
export function publishResend(session: object, count: number): void {
  if (resendChannel.hasSubscribers) resendChannel.publish({ session, count })
  debug('messaging: resending %d message(s)', count)
}

/** A session opened, resumed, was lost or closed. */
export function publishSession(
  event: 'open' | 'resume' | 'lost' | 'close',
  id: string,
  detail?: unknown,
): void {
  if (sessionChannel.hasSubscribers) sessionChannel.publish({ event, id, detail })
  debug('messaging: session %s %s', id, event)
}

/** A peer hit its rate limit (once per throttle pause or cut, not per message). */
export function publishRateLimited(peer: object, action: 'throttle' | 'disconnect'): void {
  if (rateLimitChannel.hasSubscribers) rateLimitChannel.publish({ peer, action })
}

/**
 * An error no caller can be told of (a listener threw, the session store failed): published, and printed
 * through debuglog when `unheard` (no 'error' listener took it).
 */
export function publishError(error: Error, peer: string | undefined, unheard: boolean): void {
  if (errorChannel.hasSubscribers) errorChannel.publish({ error, peer })
  if (unheard)
    debug(
      'messaging: unhandled error%s: %s',
      peer === undefined ? '' : ` (peer ${peer})`,
      error.stack ?? error.message,
    )
}
