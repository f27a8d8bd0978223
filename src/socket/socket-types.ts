// The public shapes around AsyncSocket: its lifecycle states, its events (CocoaAsyncSocket's
// delegate callbacks) and the options for wrapping a socket that is already connected.
import type net from 'node:net'
import type { WirekitError } from '../errors.ts'
import type { SocketOptions } from './options.ts'
import type { TlsOptions } from './tls.ts'

/** Lifecycle of an AsyncSocket. */
export type SocketState = 'connecting' | 'securing' | 'connected' | 'closed'

/** The delegate callbacks of CocoaAsyncSocket, as events. */
export type AsyncSocketEvents = {
  /** A read completed. */
  read: [data: Buffer, tag: unknown]
  /** A write reached the kernel. */
  write: [tag: unknown]
  /** A read that needs more bytes has `done` of `total` (NaN for until reads). */
  readProgress: [done: number, total: number, tag: unknown]
  /** The peer sent FIN: no more bytes will arrive; writing still works (half-close). */
  readClosed: []
  /** TLS is up and the peer passed the trust checks. */
  secure: []
  /** The socket closed; `error` when it closed because of a failure. */
  close: [error?: WirekitError]
}

/** Wraps an already connected socket (accepted by a server, or made elsewhere). */
export type WrapOptions = SocketOptions & {
  /** This end accepted the connection: startTLS acts as the TLS server. @default false */
  isServer?: boolean
  /** For a TLSSocket that already finished its handshake: the trust checks to run before it is usable. */
  tls?: TlsOptions
  /** The name checked by TLS trust checks and used by client startTLS. */
  host?: string
  /**
   * The TCP socket a TLSSocket `stream` was made over, when it is at hand (AsyncServer passes it):
   * reset() then sends a real RST instead of a plain close.
   */
  rawSocket?: net.Socket
}

/**
 * Takes a socket's bytes as they arrive (`AsyncSocket.consume`), instead of through read(): what a protocol
 * loop needs without a read (a promise and its closures) pending on every idle connection.
 */
export interface ChunkConsumer {
  /** Bytes arrived (never empty), in order. Must not throw: it runs inside the stream's read callback. */
  consumeChunk(chunk: Buffer): void
  /**
   * No more bytes will come, for the reason a pending read would have failed with (the peer's FIN:
   * `readEnded` is then true; a reset; a close). Called once, after which the consumer is detached.
   */
  consumeEnd(reason: WirekitError): void
}
