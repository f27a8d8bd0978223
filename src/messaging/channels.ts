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
