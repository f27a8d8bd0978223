// Observability of the socket layer: diagnostics_channel channels that tools can subscribe to, and
// `NODE_DEBUG=wirekit` logging. Publishing costs nothing when nobody subscribes.
import diagnostics from 'node:diagnostics_channel'
import { debuglog } from 'node:util'

/** Published once per socket when it becomes usable: `{ socket }`. */
export const connectChannel = diagnostics.channel('wirekit:socket:connect')
/** Published once per socket when it closes: `{ socket, error }`. */
export const closeChannel = diagnostics.channel('wirekit:socket:close')

/** `NODE_DEBUG=wirekit` output. */
export const debug = debuglog('wirekit')
