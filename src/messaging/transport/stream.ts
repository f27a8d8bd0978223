// Where messaging meets the socket layer: parse a connect URL, dial it with AsyncSocket, and listen on
// TCP / TLS / Unix paths with AsyncServer. A Connection drives the AsyncSocket directly (read chunks,
// write coalesced buffers); this file only maps messaging options onto socket options.

import { debuglog } from 'node:util'
import { InvalidArgumentError } from '../../errors.ts'
import { AsyncServer, AsyncSocket, type TlsOptions } from '../../socket/index.ts'
import { delay } from '../../util/timeout.ts'

/** Where a client connects: `tcp://host:port`, `tls://host:port`, `unix:/path/to.sock`, `ws://` or `wss://`. */
export type Endpoint =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'tls'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'ws'; url: string }

export function parseEndpoint(url: string): Endpoint {
  if (typeof url !== 'string')
    throw new InvalidArgumentError('A URL string is required (tcp://, tls:// or unix:)')
  if (url.startsWith('unix:')) {
    const path = url.slice(5).replace(/^\/\/(?=\/)/, '')
    if (path === '') throw new InvalidArgumentError(`No socket path in "${url}"`)
    return { kind: 'unix', path }
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new InvalidArgumentError(
      `Not a URL: "${url}" (expected tcp://host:port, tls://host:port or unix:/path)`,
    )
  }
  const kind = parsed.protocol.slice(0, -1)
  if (kind === 'ws' || kind === 'wss') return { kind: 'ws', url: parsed.href }
  if (kind !== 'tcp' && kind !== 'tls') {
    throw new InvalidArgumentError(
      `Unsupported scheme "${parsed.protocol}" in "${url}" (tcp:, tls:, unix:, ws: or wss:)`,
    )
  }
  const port = Number(parsed.port)
  if (!(port > 0)) throw new InvalidArgumentError(`No port in "${url}"`)
  return { kind, host: parsed.hostname.replace(/^\[|\]$/g, ''), port }
}

/** TLS settings of a client (ca, servername, pins, verify, cert/key for mTLS): the socket layer's TlsOptions. */
export type ClientTlsOptions = TlsOptions

/** Dials an endpoint; rejects with the socket layer's ConnectError / TlsError. */
export function dial(
  endpoint: Exclude<Endpoint, { kind: 'ws' }>,
  timeout: number,
  tls: ClientTlsOptions | undefined,
): Promise<AsyncSocket> {
  if (endpoint.kind === 'unix') return AsyncSocket.connect({ path: endpoint.path, timeout })
  if (endpoint.kind === 'tls') warnIfUntrusted(tls)
  return AsyncSocket.connect({
    host: endpoint.host,
    port: endpoint.port,
    timeout,
    tls: endpoint.kind === 'tls' ? (tls ?? true) : undefined,
  })
}

/** Where a server listens: TCP (`port`, `host`), TLS (plus `tls`: key, cert...) or a Unix `path`. */
export type ListenOptions = {
  /** @default 0 */
  port?: number
  /** @default '127.0.0.1' */
  host?: string
  /** A Unix domain socket path instead of host and port. */
  path?: string
  tls?: TlsOptions
  backlog?: number
  /** Listen for WebSocket clients instead: an HTTP(S) server (with `tls`: wss) upgrading `websocket.path`. */
  websocket?: { path?: string }
}

export type ListenAddress = { port: number; host: string } | { path: string }

/** A bound listener. `close(linger)` stops accepting at once; open connections get `linger` ms to end, then are destroyed. */
export type Listener = { address: ListenAddress; close(linger: number): Promise<void> }

export async function listen(
  options: ListenOptions,
  onSocket: (socket: AsyncSocket) => void,
): Promise<Listener> {
  const server = await AsyncServer.listen({ ...options }, onSocket)
  // Failures before a connection is usable (TLS handshakes) are the client's problem, not the server's.
  server.on('clientError', noop)
  const raw = server.address
  const address: ListenAddress = 'path' in raw ? { path: raw.path } : { port: raw.port, host: raw.address }
  return {
    address,
    // Bounded: a listener whose close never settles (seen after a failed TLS handshake) must not hang ours.
    close: (linger) => Promise.race([server.close({ drain: linger }), delay(linger + 500)]),
  }
}

function noop(): void {}

const debug = debuglog('wirekit')
let warnedUntrusted = false

/**
 * `rejectUnauthorized: false` with neither pins nor `verify` trusts any certificate (anyone on the path
 * can read and change the traffic): allowed, for tests, but said once per process.
 */
function warnIfUntrusted(tls: ClientTlsOptions | undefined): void {
  if (warnedUntrusted || tls?.rejectUnauthorized !== false) return
  if ((tls.pins?.length ?? 0) > 0 || tls.verify !== undefined) return
  warnedUntrusted = true
  const message =
    'wirekit: tls:// with rejectUnauthorized: false and no pins or verify trusts any certificate'
  debug(message)
  process.emitWarning(message, { code: 'WK_TLS_UNVERIFIED' })
}
