// The errors an AsyncSocket makes itself (as opposed to mapping node's, see map-error.ts): closed,
// aborted, and the reason `ready` rejects. Each message names the peer, so a log line says where.
import { AbortError, ClosedError, ConnectError, ErrorCodes, TlsError, type WirekitError } from '../errors.ts'

/** WK_CLOSED: an operation met a socket that is closed, closing or half-closed. */
export function closedError(where: string, message: string, tag?: unknown): ClosedError {
  return new ClosedError(ErrorCodes.CLOSED, `${message}: ${where}`, { tag })
}

/** WK_ABORTED: `what` was cancelled by its AbortSignal; the signal's reason is the cause. */
export function abortError(where: string, what: string, tag: unknown, signal: AbortSignal): AbortError {
  return new AbortError(ErrorCodes.ABORTED, `${what} on ${where} was aborted`, {
    tag,
    cause: signal.reason,
  })
}

/**
 * What `ready` rejects with when the socket closes: connect, TLS and abort failures as they are,
 * anything else (or a plain close) as WK_CONNECT_FAILED with the failure as its cause.
 */
export function readyError(error: WirekitError | undefined, where: string): WirekitError {
  return error instanceof ConnectError || error instanceof TlsError || error instanceof AbortError
    ? error
    : new ConnectError(ErrorCodes.CONNECT_FAILED, `connection to ${where} closed before it was ready`, {
        cause: error,
      })
}
