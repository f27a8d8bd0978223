// Option types of AsyncSocket and their defaults, with the checks that make misuse throw at once.
import { InvalidArgumentError } from '../errors.ts'
import type { TlsOptions } from './tls.ts'

/** Called when a read's timeout fires: return extra milliseconds to extend it, or 0/undefined to fail it. */
export type ReadTimeoutHandler = (tag: unknown, elapsed: number, bytesDone: number) => number | undefined

/** Called when a write's timeout fires: return extra milliseconds to extend it, or 0/undefined to fail it. */
export type WriteTimeoutHandler = (tag: unknown, elapsed: number, bytesDone: number) => number | undefined

/** Buffering and timeout behaviour shared by connected and accepted sockets. */
export type SocketOptions = {
  /**
   * Unread bytes held in user space before the socket stops reading from the kernel (TCP flow
   * control then slows the sender). A pending read that needs more still gets it.
   * @default 1_048_576
   */
  readHighWaterMark?: number
  /** Bytes in the stream's buffer after which further writes wait in our queue. @default 1_048_576 */
  writeHighWaterMark?: number
  /** Bytes that may wait in our queue beyond the high-water mark; past it write() rejects with WK_BACKPRESSURE. @default 16_777_216 */
  maxWriteQueue?: number
  /** Disable Nagle's algorithm: small writes go out at once. @default true */
  noDelay?: boolean
  /** TCP keep-alive probes. @default false */
  keepAlive?: boolean
  /** Idle milliseconds before the first keep-alive probe. @default 0 (the system default) */
  keepAliveInitialDelay?: number
  /** See ReadTimeoutHandler. Also settable later as `socket.onReadTimeout`. */
  onReadTimeout?: ReadTimeoutHandler
  /** See WriteTimeoutHandler. Also settable later as `socket.onWriteTimeout`. */
  onWriteTimeout?: WriteTimeoutHandler
}

/** Where and how to connect. Give `host` + `port`, or `path` for a Unix socket. */
export type ConnectOptions = SocketOptions & {
  /** @default 'localhost' */
  host?: string
  port?: number
  /** A Unix domain socket path (instead of host and port). */
  path?: string
  /** Milliseconds the TCP connect may take (TLS has its own `tls.handshakeTimeout`). @default 30_000 */
  timeout?: number
  /** Cancels the connect (WK_ABORTED). */
  signal?: AbortSignal
  /** TLS from the first byte; `true` means default settings (system roots, hostname check). */
  tls?: TlsOptions | true
  localAddress?: string
  localPort?: number
  /** 4 or 6 to force an address family. @default 0 (either) */
  family?: 0 | 4 | 6
  /** Happy eyeballs (RFC 8305): try IPv6 and IPv4 addresses in parallel. @default true */
  autoSelectFamily?: boolean
}

/** One read. Without `length` or `until` it returns whatever is buffered (at least one byte). */
export type ReadOptions = {
  /** Exactly this many bytes. */
  length?: number
  /** Up to and including this delimiter (e.g. '\r\n'). */
  until?: string | Uint8Array
  /**
   * `until` reads: the longest result allowed, delimiter included; past it the read rejects with
   * WK_READ_MAX_LENGTH. Plain reads: the most bytes returned.
   * @default 65_536 for `until`, unlimited for plain reads
   */
  maxLength?: number
  /** Milliseconds before the read rejects with WK_READ_TIMEOUT (see onReadTimeout). */
  timeout?: number
  /** Any value, handed back in the 'read' event and on errors. */
  tag?: unknown
  /** Cancels the read (WK_ABORTED); the socket stays open. */
  signal?: AbortSignal
}

/** One write. */
export type WriteOptions = {
  /** Milliseconds before the write rejects with WK_WRITE_TIMEOUT (see onWriteTimeout). */
  timeout?: number
  /** Any value, handed back in the 'write' event and on errors. */
  tag?: unknown
  /** Cancels the write (WK_ABORTED). */
  signal?: AbortSignal
}

export const DEFAULTS = {
  readHighWaterMark: 1 << 20,
  writeHighWaterMark: 1 << 20,
  maxWriteQueue: 16 << 20,
  connectTimeout: 30_000,
  untilMaxLength: 65_536,
} as const

/** Throws unless `value` is undefined or a number ≥ `min` (a count of bytes or milliseconds). */
export function checkNumber(value: unknown, name: string, min = 0, integer = true): void {
  if (value === undefined) return
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < min ||
    (integer && !Number.isSafeInteger(value))
  ) {
    if (value === Number.POSITIVE_INFINITY && !integer) return
    throw new InvalidArgumentError(
      `${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${String(value)}`,
    )
  }
}

/** Throws unless `signal` is undefined or an AbortSignal. */
export function checkSignal(signal: unknown, name: string): void {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`${name} must be an AbortSignal`)
  }
}

/** Validates the buffering options shared by every socket. */
export function checkSocketOptions(options: SocketOptions): void {
  checkNumber(options.readHighWaterMark, 'readHighWaterMark', 1)
  checkNumber(options.writeHighWaterMark, 'writeHighWaterMark', 1)
  checkNumber(options.maxWriteQueue, 'maxWriteQueue', 0)
  checkNumber(options.keepAliveInitialDelay, 'keepAliveInitialDelay', 0)
  if (options.onReadTimeout !== undefined && typeof options.onReadTimeout !== 'function') {
    throw new InvalidArgumentError('onReadTimeout must be a function')
  }
  if (options.onWriteTimeout !== undefined && typeof options.onWriteTimeout !== 'function') {
    throw new InvalidArgumentError('onWriteTimeout must be a function')
  }
}
