// Dialing for AsyncSocket.open(): checks connect options, maps them onto node:net's, starts the
// TCP or Unix connect, and arms its deadlines (connect, then TLS handshake) and abort signal.
// What happens once the socket answers (the handshake itself, trust checks) is the socket's.
import net from 'node:net'
import { ConnectError, ErrorCodes, InvalidArgumentError, TlsError, type WirekitError } from '../errors.ts'
import { startTimer } from '../util/timeout.ts'
import { type ConnectOptions, checkNumber, checkSignal, checkSocketOptions, DEFAULTS } from './options.ts'
import { ReceiveBuffer } from './receive-buffer.ts'
import { abortError } from './socket-errors.ts'
import { DEFAULT_HANDSHAKE_TIMEOUT, type TlsOptions, validateTlsOptions } from './tls.ts'

/** A connect under way, and what the socket needs to know about it. */
export type Dial = {
  /** The TCP or Unix socket, connecting. */
  stream: net.Socket
  /** Where reads land for a plaintext socket (net's `onread`); undefined under TLS. */
  receiver: ReceiveBuffer | undefined
  /** The TLS options to secure with once connected, or undefined for plaintext. */
  tls: TlsOptions | undefined
  /** The host name for TLS checks; undefined for a Unix socket. */
  host: string | undefined
  /** The peer as error messages name it. */
  where: string
}

/** Validates `options` (throws WK_INVALID_ARGUMENT) and starts connecting. */
export function dial(options: ConnectOptions): Dial {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('connect options required')
  checkSocketOptions(options)
  checkNumber(options.timeout, 'timeout', 0, false)
  checkSignal(options.signal, 'signal')
  const { path, port } = options
  const host = options.host ?? 'localhost'
  if (path === undefined) {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidArgumentError(`port must be an integer 1..65535, got ${String(port)}`)
    }
  } else if (typeof path !== 'string' || path === '')
    throw new InvalidArgumentError('path must be a non-empty string')
  const tlsOptions = options.tls === true ? {} : options.tls
  if (tlsOptions) validateTlsOptions(tlsOptions, 'connect')
  const where = path ?? `${host}:${port}`
  const base: net.NetConnectOpts = path
    ? { path, allowHalfOpen: true }
    : {
        host,
        port: port!,
        localAddress: options.localAddress,
        localPort: options.localPort,
        family: options.family ?? 0,
        autoSelectFamily: options.autoSelectFamily ?? true,
        noDelay: options.noDelay ?? true,
        keepAlive: options.keepAlive ?? false,
        keepAliveInitialDelay: options.keepAliveInitialDelay ?? 0,
        allowHalfOpen: true,
      }
  // Plaintext reads go straight into buffers we choose; TLS decrypts into its own. TLS runs over a
  // TCP socket of our own (not tls.connect's internal one) so reset() can send a real RST.
  const receiver = tlsOptions ? undefined : new ReceiveBuffer()
  const stream = net.connect(receiver ? { ...base, onread: ReceiveBuffer.onreadForNewSocket() } : base)
  receiver?.bind(stream)
  return { stream, receiver, tls: tlsOptions, host: path ? undefined : host, where }
}

/**
 * Arms the connect timeout and `options.signal`; either one calls `fail`. The signal's listener goes
 * once `ready` settles. Returns the timer's cancel, for when the connection is up.
 */
export function armConnect(
  options: ConnectOptions,
  where: string,
  ready: Promise<void>,
  fail: (error: WirekitError) => void,
): () => void {
  const cancelTimer = startTimer(options.timeout ?? DEFAULTS.connectTimeout, () =>
    fail(new ConnectError(ErrorCodes.CONNECT_TIMEOUT, `connect to ${where} timed out`)),
  )
  const signal = options.signal
  if (signal) {
    if (signal.aborted) queueMicrotask(() => fail(abortError(where, 'connect', undefined, signal)))
    else {
      const onAbort = (): void => fail(abortError(where, 'connect', undefined, signal))
      signal.addEventListener('abort', onAbort, { once: true })
      ready.finally(() => signal.removeEventListener('abort', onAbort)).catch(noop)
    }
  }
  return cancelTimer
}

/** Arms the deadline for a TLS handshake and the trust checks after it; returns its cancel. */
export function armHandshake(
  options: TlsOptions,
  where: string,
  fail: (error: WirekitError) => void,
): () => void {
  return startTimer(options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT, () =>
    fail(new TlsError(ErrorCodes.TLS_HANDSHAKE_TIMEOUT, `TLS handshake with ${where} timed out`)),
  )
}

function noop(): void {}
