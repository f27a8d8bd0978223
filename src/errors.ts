// Every failure wirekit reports is a WirekitError with a stable `code`.
// Codes are short `WK_*` strings, listed once here and in README.md ("Error codes").
// Misuse (a bad argument) throws at once; I/O failures reject the pending promise.

/** Stable error codes: match on these, never on messages. */
export const ErrorCodes = {
  // misuse
  INVALID_ARGUMENT: 'WK_INVALID_ARGUMENT',
  // connect
  CONNECT_REFUSED: 'WK_CONNECT_REFUSED',
  CONNECT_TIMEOUT: 'WK_CONNECT_TIMEOUT',
  CONNECT_FAILED: 'WK_CONNECT_FAILED',
  HOST_NOT_FOUND: 'WK_HOST_NOT_FOUND',
  MAX_CONNECTIONS: 'WK_MAX_CONNECTIONS',
  SOCKET_FAILED: 'WK_SOCKET_FAILED', // the OS refused a socket operation: listen/bind (address in use), a UDP send
  // timeouts and cancellation
  READ_TIMEOUT: 'WK_READ_TIMEOUT',
  WRITE_TIMEOUT: 'WK_WRITE_TIMEOUT',
  ABORTED: 'WK_ABORTED',
  // stream state
  READ_MAX_LENGTH: 'WK_READ_MAX_LENGTH',
  CLOSED: 'WK_CLOSED',
  CONNECTION_RESET: 'WK_CONNECTION_RESET',
  // TLS
  TLS_UNTRUSTED: 'WK_TLS_UNTRUSTED',
  TLS_HOSTNAME: 'WK_TLS_HOSTNAME',
  TLS_PIN_MISMATCH: 'WK_TLS_PIN_MISMATCH',
  TLS_REJECTED: 'WK_TLS_REJECTED',
  TLS_HANDSHAKE_TIMEOUT: 'WK_TLS_HANDSHAKE_TIMEOUT',
  TLS_FAILED: 'WK_TLS_FAILED',
  // UDP
  DATAGRAM_TOO_LARGE: 'WK_DATAGRAM_TOO_LARGE',
  // framing / protocol
  FRAME_TOO_LARGE: 'WK_FRAME_TOO_LARGE',
  FRAME_CORRUPT: 'WK_FRAME_CORRUPT',
  FRAME_TRUNCATED: 'WK_FRAME_TRUNCATED',
  PROTOCOL: 'WK_PROTOCOL',
  // messaging
  BACKPRESSURE: 'WK_BACKPRESSURE',
  SLOW_CONSUMER: 'WK_SLOW_CONSUMER',
  RATE_LIMITED: 'WK_RATE_LIMITED',
  REQUEST_TIMEOUT: 'WK_REQUEST_TIMEOUT',
  REMOTE_ERROR: 'WK_REMOTE_ERROR',
  NO_HANDLER: 'WK_NO_HANDLER',
  SESSION_LOST: 'WK_SESSION_LOST',
  AUTH_FAILED: 'WK_AUTH_FAILED',
  AUTH_TIMEOUT: 'WK_AUTH_TIMEOUT',
  HEARTBEAT_TIMEOUT: 'WK_HEARTBEAT_TIMEOUT',
  SERVER_CLOSING: 'WK_SERVER_CLOSING',
  ADAPTER_UNAVAILABLE: 'WK_ADAPTER_UNAVAILABLE',
  // messaging: hostile clients (issue 10)
  SESSION_TAKEN_OVER: 'WK_SESSION_TAKEN_OVER', // another connection resumed this session with its token
  SESSION_STORE_FAILED: 'WK_SESSION_STORE_FAILED', // the session store failed a claim: a new session was opened
  // durable rooms (history)
  HISTORY_FAILED: 'WK_HISTORY_FAILED', // the history store could not append or read (disk, database, Redis)
  SUBSCRIBE_DENIED: 'WK_SUBSCRIBE_DENIED', // authorizeSubscribe said no, the room is not durable, or too many rooms
  // HTTP
  HTTP_CANCELLED: 'WK_HTTP_CANCELLED',
  HTTP_TIMEOUT: 'WK_HTTP_TIMEOUT',
  HTTP_BAD_URL: 'WK_HTTP_BAD_URL',
  HTTP_INSECURE: 'WK_HTTP_INSECURE',
  HTTP_TLS_UNTRUSTED: 'WK_HTTP_TLS_UNTRUSTED',
  HTTP_PIN_MISMATCH: 'WK_HTTP_PIN_MISMATCH',
  HTTP_STATUS: 'WK_HTTP_STATUS',
  HTTP_CONTENT_TYPE: 'WK_HTTP_CONTENT_TYPE',
  HTTP_NETWORK: 'WK_HTTP_NETWORK',
  HTTP_BODY: 'WK_HTTP_BODY',
  HTTP_TOO_MANY_REDIRECTS: 'WK_HTTP_TOO_MANY_REDIRECTS',
  HTTP_HEADERS_TOO_LARGE: 'WK_HTTP_HEADERS_TOO_LARGE',
  HTTP_NOT_CACHED: 'WK_HTTP_NOT_CACHED',
  // RTMP
  RTMP_BAD_URL: 'WK_RTMP_BAD_URL',
  RTMP_HANDSHAKE: 'WK_RTMP_HANDSHAKE',
  RTMP_CHUNK: 'WK_RTMP_CHUNK',
  RTMP_MESSAGE_TOO_LARGE: 'WK_RTMP_MESSAGE_TOO_LARGE',
  RTMP_AMF: 'WK_RTMP_AMF',
  RTMP_COMMAND: 'WK_RTMP_COMMAND',
  RTMP_REJECTED: 'WK_RTMP_REJECTED',
  RTMP_STREAM_BUSY: 'WK_RTMP_STREAM_BUSY',
  RTMP_TIMEOUT: 'WK_RTMP_TIMEOUT',
  RTMP_FLV: 'WK_RTMP_FLV',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** Context carried by an error, where it applies. */
export type ErrorContext = {
  cause?: unknown
  /** The tag of the read or write that failed. */
  tag?: unknown
  /** Bytes transferred by the failed operation before it failed. */
  bytesDone?: number
  /** HTTP: the response that failed validation. */
  response?: unknown
  /** Messaging: messages that were not acknowledged (session lost, closed). */
  unacknowledged?: unknown[]
  /** Anything else worth reporting, by name. */
  [key: string]: unknown
}

/** The base class of every error wirekit raises. */
export class WirekitError extends Error {
  readonly code: ErrorCode
  tag?: unknown
  bytesDone?: number
  response?: unknown
  unacknowledged?: unknown[]

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    const { cause, ...rest } = context
    super(message, cause === undefined ? undefined : { cause })
    this.code = code
    for (const key of Object.keys(rest)) {
      if (rest[key] !== undefined) (this as Record<string, unknown>)[key] = rest[key]
    }
  }

  override get name(): string {
    return this.constructor.name
  }
}

/** A bad argument or a call at the wrong time: thrown synchronously. */
export class InvalidArgumentError extends WirekitError {
  constructor(message: string, context?: ErrorContext) {
    super(ErrorCodes.INVALID_ARGUMENT, message, context)
  }
}

/** A connection could not be made (refused, timed out, host not found, server full). */
export class ConnectError extends WirekitError {}

/** An operation ran past its deadline. */
export class TimeoutError extends WirekitError {}

/** An operation was cancelled through its AbortSignal. */
export class AbortError extends WirekitError {}

/** The connection is closed (or was reset) and the operation cannot complete. */
export class ClosedError extends WirekitError {}

/** The peer sent bytes that break the protocol: oversize or corrupt frames, bad envelopes. */
export class ProtocolError extends WirekitError {}

/** TLS failed: untrusted certificate, hostname or pin mismatch, handshake timeout. */
export class TlsError extends WirekitError {}

/** A bounded buffer is full: the send is refused instead of growing memory. */
export class BackpressureError extends WirekitError {}

/** Messaging: the remote handler failed, or the session could not be resumed. */
export class MessagingError extends WirekitError {}

/** HTTP: a request failed (status, content type, network, security policy, cache). */
export class HttpError extends WirekitError {}

/** RTMP: the server refused a publish or play (rejected, stream busy), or a session timed out. */
export class RtmpError extends WirekitError {}

/** True when `error` is a WirekitError, optionally with the given code. */
export function isWirekitError(error: unknown, code?: ErrorCode): error is WirekitError {
  return error instanceof WirekitError && (code === undefined || error.code === code)
}

// ——— one code, one class ———

type ErrorClass = new (code: ErrorCode, message: string, context?: ErrorContext) => WirekitError

const C = ErrorCodes
/** The class each code is raised with, everywhere: match on the code or on the class, never both ways. */
export const ERROR_CLASSES: { readonly [K in ErrorCode]: ErrorClass | typeof InvalidArgumentError } = {
  [C.INVALID_ARGUMENT]: InvalidArgumentError,
  [C.CONNECT_REFUSED]: ConnectError,
  [C.CONNECT_TIMEOUT]: ConnectError,
  [C.CONNECT_FAILED]: ConnectError,
  [C.HOST_NOT_FOUND]: ConnectError,
  [C.MAX_CONNECTIONS]: ConnectError,
  [C.SOCKET_FAILED]: ConnectError,
  [C.READ_TIMEOUT]: TimeoutError,
  [C.WRITE_TIMEOUT]: TimeoutError,
  [C.ABORTED]: AbortError,
  [C.READ_MAX_LENGTH]: ProtocolError,
  [C.CLOSED]: ClosedError,
  [C.CONNECTION_RESET]: ClosedError,
  [C.TLS_UNTRUSTED]: TlsError,
  [C.TLS_HOSTNAME]: TlsError,
  [C.TLS_PIN_MISMATCH]: TlsError,
  [C.TLS_REJECTED]: TlsError,
  [C.TLS_HANDSHAKE_TIMEOUT]: TlsError,
  [C.TLS_FAILED]: TlsError,
  [C.DATAGRAM_TOO_LARGE]: WirekitError,
  [C.FRAME_TOO_LARGE]: ProtocolError,
  [C.FRAME_CORRUPT]: ProtocolError,
  [C.FRAME_TRUNCATED]: ProtocolError,
  [C.PROTOCOL]: ProtocolError,
  [C.BACKPRESSURE]: BackpressureError,
  [C.SLOW_CONSUMER]: MessagingError,
  [C.RATE_LIMITED]: BackpressureError,
  [C.REQUEST_TIMEOUT]: TimeoutError,
  [C.REMOTE_ERROR]: MessagingError,
  [C.NO_HANDLER]: MessagingError,
  [C.SESSION_LOST]: MessagingError,
  [C.AUTH_FAILED]: MessagingError,
  [C.AUTH_TIMEOUT]: TimeoutError,
  [C.HEARTBEAT_TIMEOUT]: TimeoutError,
  [C.SERVER_CLOSING]: ClosedError,
  [C.ADAPTER_UNAVAILABLE]: MessagingError,
  [C.SESSION_TAKEN_OVER]: MessagingError,
  [C.SESSION_STORE_FAILED]: MessagingError,
  [C.HISTORY_FAILED]: MessagingError,
  [C.SUBSCRIBE_DENIED]: MessagingError,
  [C.HTTP_CANCELLED]: HttpError,
  [C.HTTP_TIMEOUT]: HttpError,
  [C.HTTP_BAD_URL]: HttpError,
  [C.HTTP_INSECURE]: HttpError,
  [C.HTTP_TLS_UNTRUSTED]: HttpError,
  [C.HTTP_PIN_MISMATCH]: HttpError,
  [C.HTTP_STATUS]: HttpError,
  [C.HTTP_CONTENT_TYPE]: HttpError,
  [C.HTTP_NETWORK]: HttpError,
  [C.HTTP_BODY]: HttpError,
  [C.HTTP_TOO_MANY_REDIRECTS]: HttpError,
  [C.HTTP_HEADERS_TOO_LARGE]: HttpError,
  [C.HTTP_NOT_CACHED]: HttpError,
  [C.RTMP_BAD_URL]: WirekitError,
  [C.RTMP_HANDSHAKE]: ProtocolError,
  [C.RTMP_CHUNK]: ProtocolError,
  [C.RTMP_MESSAGE_TOO_LARGE]: ProtocolError,
  [C.RTMP_AMF]: ProtocolError,
  [C.RTMP_COMMAND]: ProtocolError,
  [C.RTMP_REJECTED]: RtmpError,
  [C.RTMP_STREAM_BUSY]: RtmpError,
  [C.RTMP_TIMEOUT]: RtmpError,
  [C.RTMP_FLV]: ProtocolError,
}

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes))

/** True when `value` is one of wirekit's codes (a code read off the wire is checked with this). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && KNOWN_CODES.has(value)
}

/** An error of the one class `code` is raised with. */
export function errorFor(code: ErrorCode, message: string, context?: ErrorContext): WirekitError {
  if (code === ErrorCodes.INVALID_ARGUMENT) return new InvalidArgumentError(message, context)
  return new (ERROR_CLASSES[code] as ErrorClass)(code, message, context)
}
