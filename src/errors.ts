// Every failure wirekit reports is a WirekitError with a stable `code`.
// Codes are short `WK_*` strings, listed once here and in README.md ("Error codes").
// Misuse (a bad argument) throws at once; I/O failures reject the pending promise.

/** The codes' names; each code is `WK_` + its name (one list: the browser bundle carries each name once). */
const CODE_NAMES = [
  // misuse
  'INVALID_ARGUMENT',
  // connect
  'CONNECT_REFUSED',
  'CONNECT_TIMEOUT',
  'CONNECT_FAILED',
  'HOST_NOT_FOUND',
  'MAX_CONNECTIONS',
  'SOCKET_FAILED', // the OS refused a socket operation: listen/bind (address in use), a UDP send
  // timeouts and cancellation
  'READ_TIMEOUT',
  'WRITE_TIMEOUT',
  'ABORTED',
  // stream state
  'READ_MAX_LENGTH',
  'CLOSED',
  'CONNECTION_RESET',
  // TLS
  'TLS_UNTRUSTED',
  'TLS_HOSTNAME',
  'TLS_PIN_MISMATCH',
  'TLS_REJECTED',
  'TLS_HANDSHAKE_TIMEOUT',
  'TLS_FAILED',
  // UDP
  'DATAGRAM_TOO_LARGE',
  // framing / protocol
  'FRAME_TOO_LARGE',
  'FRAME_CORRUPT',
  'FRAME_TRUNCATED',
  'PROTOCOL',
  // messaging
  'BACKPRESSURE',
  'SLOW_CONSUMER',
  'RATE_LIMITED',
  'REQUEST_TIMEOUT',
  'REMOTE_ERROR',
  'NO_HANDLER',
  'SESSION_LOST',
  'AUTH_FAILED',
  'AUTH_TIMEOUT',
  'HEARTBEAT_TIMEOUT',
  'SERVER_CLOSING',
  'ADAPTER_UNAVAILABLE',
  // messaging: hostile clients (issue 10)
  'SESSION_TAKEN_OVER', // another connection resumed this session with its token
  'SESSION_STORE_FAILED', // the session store failed a claim: a new session was opened
  // durable rooms (history)
  'HISTORY_FAILED', // the history store could not append or read (disk, database, Redis)
  'SUBSCRIBE_DENIED', // authorizeSubscribe said no, the room is not durable, or too many rooms
  // HTTP
  'HTTP_CANCELLED',
  'HTTP_TIMEOUT',
  'HTTP_BAD_URL',
  'HTTP_INSECURE',
  'HTTP_TLS_UNTRUSTED',
  'HTTP_PIN_MISMATCH',
  'HTTP_STATUS',
  'HTTP_CONTENT_TYPE',
  'HTTP_NETWORK',
  'HTTP_BODY',
  'HTTP_TOO_MANY_REDIRECTS',
  'HTTP_HEADERS_TOO_LARGE',
  'HTTP_NOT_CACHED',
  // RTMP
  'RTMP_BAD_URL',
  'RTMP_HANDSHAKE',
  'RTMP_CHUNK',
  'RTMP_MESSAGE_TOO_LARGE',
  'RTMP_AMF',
  'RTMP_COMMAND',
  'RTMP_REJECTED',
  'RTMP_STREAM_BUSY',
  'RTMP_TIMEOUT',
  'RTMP_FLV',
] as const

type CodeName = (typeof CODE_NAMES)[number]

/** Stable error codes: match on these, never on messages. */
export const ErrorCodes: { readonly [K in CodeName]: `WK_${K}` } = Object.freeze(
  Object.fromEntries(CODE_NAMES.map((name) => [name, `WK_${name}`])),
) as { readonly [K in CodeName]: `WK_${K}` }

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
