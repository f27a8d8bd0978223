// Turns the errors node:net, node:tls and node:dgram raise into WirekitErrors with stable codes,
// keeping the original as `cause`. One place, so every socket reports a failure the same way.
import { ClosedError, ConnectError, ErrorCodes, TlsError, WirekitError } from '../errors.ts'

type SystemError = Error & { code?: string; syscall?: string; reason?: string }

/** OpenSSL verification codes that mean "the chain does not lead to a trusted, valid certificate". */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'ERR_TLS_CERT_SIGNATURE_ALGORITHM_UNSUPPORTED',
])

/** True for errors that mean the peer aborted the connection. */
export function isResetError(error: unknown): boolean {
  const code = (error as SystemError | undefined)?.code
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED'
}

/** A failure while connecting (before the socket is usable). */
export function connectError(error: unknown, where: string): WirekitError {
  if (error instanceof WirekitError) return error
  const err = error as SystemError
  const tls = tlsError(err, where)
  if (tls) return tls
  switch (err.code) {
    case 'ECONNREFUSED':
      return new ConnectError(ErrorCodes.CONNECT_REFUSED, `connection refused by ${where}`, { cause: err })
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return new ConnectError(ErrorCodes.HOST_NOT_FOUND, `host not found: ${where}`, { cause: err })
    case 'ETIMEDOUT':
      return new ConnectError(ErrorCodes.CONNECT_TIMEOUT, `connect to ${where} timed out`, { cause: err })
    default:
      if (isResetError(err)) {
        // One code, one class: a reset is a ClosedError whether it came while connecting or later.
        return new ClosedError(ErrorCodes.CONNECTION_RESET, `connection to ${where} was reset`, {
          cause: err,
        })
      }
      return new ConnectError(ErrorCodes.CONNECT_FAILED, `connect to ${where} failed: ${err.message}`, {
        cause: err,
      })
  }
}

/** A TLS failure as a TlsError, or undefined when `error` is not about TLS. */
export function tlsError(error: SystemError, where: string): TlsError | undefined {
  const code = error.code ?? ''
  if (UNTRUSTED.has(code)) {
    return new TlsError(ErrorCodes.TLS_UNTRUSTED, `certificate of ${where} is not trusted (${code})`, {
      cause: error,
      reason: code,
    })
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new TlsError(
      ErrorCodes.TLS_HOSTNAME,
      `certificate of ${where} does not match its name: ${error.reason}`,
      {
        cause: error,
        reason: code,
      },
    )
  }
  // The peer sent an alert: it refused our certificate (or lack of one), or our parameters.
  if (/ALERT|CERTIFICATE_REQUIRED|PEER_DID_NOT_RETURN_A_CERTIFICATE/.test(code)) {
    return new TlsError(ErrorCodes.TLS_REJECTED, `TLS peer ${where} rejected the handshake (${code})`, {
      cause: error,
      reason: code,
    })
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('ERR_OSSL_')) {
    return new TlsError(ErrorCodes.TLS_FAILED, `TLS with ${where} failed: ${error.message}`, {
      cause: error,
      reason: code,
    })
  }
  return undefined
}

/** A failure of an established connection, as reported to pending reads and writes. */
export function ioError(error: unknown, where: string): WirekitError {
  if (error instanceof WirekitError) return error
  const err = error as SystemError
  if (isResetError(err)) {
    return new ClosedError(ErrorCodes.CONNECTION_RESET, `connection to ${where} was reset by the peer`, {
      cause: err,
    })
  }
  const tls = tlsError(err, where)
  if (tls) return tls
  return new ClosedError(ErrorCodes.CLOSED, `connection to ${where} failed: ${err.message}`, { cause: err })
}
