// How a session core turns application data into payload bytes and back: the one thing that differs
// between runtimes (Node writes strings straight into Buffers and speaks MessagePack; a browser uses
// TextEncoder and JSON only), so the core takes it as an argument instead of importing either.

import { ErrorCodes, ProtocolError } from '../../errors.ts'
import { Format } from './kinds.ts'

/** An encoded payload: JSON text may stay a string until it is written into the output batch. */
export type Body = string | Uint8Array | undefined

export interface Payloads {
  /** The format `data` travels in (raw for bytes, empty for undefined, else the session's codec). */
  formatOf(data: unknown): Format
  /** Encodes `data`; throws InvalidArgumentError for data the format cannot carry (cycles, BigInt). */
  encode(data: unknown, format: Format): Body
  /** Byte length of an encoded body. */
  length(body: Body): number
  /** Writes `body` (`length` bytes) into `target` at `at`; returns the offset after it. */
  write(target: Uint8Array, at: number, body: Body, length: number): number
  /** Decodes the payload of `frame` from `start`; throws ProtocolError (WK_PROTOCOL) on bad bytes. */
  decode(frame: Uint8Array, start: number, format: Format): unknown
  /** Decodes a body kept in an outbox back into application data (sessionLost, close). */
  decodeStored(body: Body, format: Format): unknown
  /** A byte array to build an output batch in (Buffer.allocUnsafe in Node). */
  alloc(size: number): Uint8Array
}

/** A payload in a format the receiver does not accept. */
export function refusedFormat(format: Format): ProtocolError {
  return new ProtocolError(
    ErrorCodes.PROTOCOL,
    `Bad envelope: payload format ${format === Format.MSGPACK ? 'MessagePack' : format} is not accepted here`,
  )
}
