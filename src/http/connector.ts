// The session's connector: wraps undici's (or the proxy tunnel's) connect function to time the phases of each new
// connection and to check certificate pins on the finished TLS socket before undici writes a single request byte.
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { buildConnector } from 'undici'
import type { SecurityPolicy } from './security.ts'
import { type ConnectionTimings, recordConnection } from './timings.ts'

type Connector = buildConnector.connector
type ConnectorOptions = buildConnector.Options
type ConnectorCallback = buildConnector.Callback

/** Wraps `base`: timings for every connection, pin checks for https ones. */
export function wrapConnector(base: Connector, policy: SecurityPolicy): Connector {
  return function connect(options: ConnectorOptions, callback: ConnectorCallback): void {
    const start = performance.now()
    const marks = { lookup: 0, connect: 0 }
    const returned = (base as (o: ConnectorOptions, cb: ConnectorCallback) => unknown)(options, onConnected)
    // buildConnector returns the socket at once; a proxy tunnel returns a promise (then only the total is known).
    if (isSocket(returned)) {
      returned.once('lookup', () => {
        marks.lookup = performance.now()
      })
      returned.once('connect', () => {
        marks.connect = performance.now()
      })
    }

    function onConnected(...args: [Error, null] | [null, Socket | TLSSocket]): void {
      const [error, socket] = args
      if (error !== null) {
        callback(error, null)
        return
      }
      const end = performance.now()
      const timings: ConnectionTimings = { dns: 0, connect: end - start, tls: 0, claimed: false }
      if (marks.connect !== 0) {
        timings.dns = marks.lookup === 0 ? 0 : marks.lookup - start
        timings.connect = marks.connect - (marks.lookup || start)
        timings.tls = options.protocol === 'https:' ? end - marks.connect : 0
      }
      recordConnection(socket, timings)
      if (options.protocol === 'https:' && policy.pinning) {
        const failure = policy.verifyPins(socket as TLSSocket, options.hostname)
        if (failure !== undefined) {
          socket.destroy()
          callback(failure, null)
          return
        }
      }
      callback(null, socket)
    }
  }
}

function isSocket(value: unknown): value is Socket {
  return (
    typeof (value as Socket | undefined)?.once === 'function' && typeof (value as Socket).write === 'function'
  )
}
