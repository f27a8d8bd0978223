// Payload codecs: how application data becomes envelope payload bytes and back.
// JSON is the default, MessagePack (msgpackr) is opt-in, and a Buffer/Uint8Array is always sent raw.
// Each message names its own format in the envelope flags, so the two ends may choose differently.
// Decoding is defensive: a receiver decodes MessagePack only when it accepts it (a server: its own codec
// by default), and then only into what JSON could carry plus binary: no structured clone (cycles),
// records, dates, sets, errors or BigInt. 64-bit integers arrive as numbers when exactly representable
// (|n| ≤ 2^53); larger ones, like any other exotic value, are a protocol error (WK_PROTOCOL).

import { Packr } from 'msgpackr'
import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../../errors.ts'
import { Format } from './kinds.ts'
import type { Body, Payloads } from './payloads.ts'

export { type Body, refusedFormat } from './payloads.ts'

/** How the sender encodes structured data. Binary data (Uint8Array) is always sent raw. @default 'json' */
export type PayloadCodecName = 'json' | 'msgpack'

const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  mapsAsObjects: true,
  // Numbers when |n| ≤ 2^53, BigInt (refused by checkPlain) beyond: not yet in msgpackr's types.
  ...({ int64AsType: 'auto' } as object),
})

/** Deepest nesting of arrays and maps accepted in a MessagePack payload (a cycle trips it too). */
const MAX_MSGPACK_DEPTH = 64

/** The payload formats a receiver decodes besides JSON and raw bytes (always accepted). */
export type AcceptOptions = PayloadCodecName[]

/** Whether a receiver configured with `accept` decodes MessagePack. */
export function acceptsMsgpack(accept: readonly PayloadCodecName[]): boolean {
  return accept.includes('msgpack')
}

/** The format `data` is sent in. */
export function formatOf(data: unknown, codec: PayloadCodecName): Format {
  if (data === undefined) return Format.EMPTY
  if (data instanceof Uint8Array) return Format.RAW
  return codec === 'msgpack' ? Format.MSGPACK : Format.JSON
}

/** Encodes `data` in `format`. Throws InvalidArgumentError for data JSON cannot carry (cycles, BigInt). */
export function encodeBody(data: unknown, format: Format): Body {
  switch (format) {
    case Format.JSON:
      try {
        return JSON.stringify(data)
      } catch (error) {
        throw new InvalidArgumentError(`Cannot encode message data as JSON: ${(error as Error).message}`, {
          cause: error,
        })
      }
    case Format.MSGPACK:
      return packr.pack(data)
    case Format.RAW:
      return data as Uint8Array
    default:
      return undefined
  }
}

/** Node's direct string writers and reader (stable since v0.x, used by Buffer#write and #toString themselves, not in @types/node). */
type FastWrites = Buffer & {
  latin1Write(text: string, offset: number, length: number): number
  utf8Write(text: string, offset: number, length: number): number
  utf8Slice(start: number, end: number): string
}

/** UTF-8 byte length of a body. */
export function bodyLength(body: Body): number {
  if (body === undefined) return 0
  return typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength
}

/** Writes a body into `target` at `at`; `length` is its byte length. Returns the new offset. */
export function writeBody(target: Uint8Array, at: number, body: Body, length: number): number {
  if (body === undefined) return at
  if (typeof body !== 'string') target.set(body, at)
  // Byte length equal to the string length means ASCII: the narrowing copy is about twice as fast.
  else if (length === body.length) (target as FastWrites).latin1Write(body, at, length)
  else (target as FastWrites).utf8Write(body, at, length)
  return at + length
}

/**
 * Decodes the payload of `frame` from `start`. Raw payloads are copied: frames are slices of the read
 * buffer and only valid until the next chunk. Throws ProtocolError (WK_PROTOCOL) on undecodable bytes.
 */
export function decodePayload(bytes: Uint8Array, start: number, format: Format): unknown {
  // Frames read in Node are Buffers; a plain Uint8Array (a test, a WebSocket message) gets a view.
  const frame =
    bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  switch (format) {
    case Format.JSON:
      try {
        // utf8Slice: what toString('utf8', start, end) runs after checking its arguments, per message.
        return JSON.parse((frame as FastWrites).utf8Slice(start, frame.length))
      } catch (error) {
        throw new ProtocolError(ErrorCodes.PROTOCOL, 'Bad envelope: payload is not valid JSON', {
          cause: error,
        })
      }
    case Format.MSGPACK: {
      let value: unknown
      try {
        value = packr.unpack(frame.subarray(start))
      } catch (error) {
        throw new ProtocolError(ErrorCodes.PROTOCOL, 'Bad envelope: payload is not valid MessagePack', {
          cause: error,
        })
      }
      checkPlain(value, 0)
      return value
    }
    case Format.RAW:
      return Buffer.from(frame.subarray(start))
    default:
      if (start !== frame.length)
        throw new ProtocolError(ErrorCodes.PROTOCOL, 'Bad envelope: bytes after empty payload')
      return undefined
  }
}

/** Decodes a stored body (a message kept in an outbox) back into application data. */
export function decodeBody(body: Body, format: Format): unknown {
  if (body === undefined) return undefined
  if (typeof body === 'string') return JSON.parse(body)
  if (format === Format.MSGPACK) return packr.unpack(body)
  return body
}

/**
 * Throws WK_PROTOCOL unless `value` is JSON-shaped data or bytes: what application code can forward,
 * encode as JSON or store without meeting a BigInt, a cycle or a prototype it did not expect.
 */
function checkPlain(value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return
    case 'bigint':
      throw new ProtocolError(ErrorCodes.PROTOCOL, 'Bad envelope: MessagePack integer beyond 2^53')
    case 'object': {
      if (value === null || value instanceof Uint8Array) return
      if (depth >= MAX_MSGPACK_DEPTH)
        throw new ProtocolError(
          ErrorCodes.PROTOCOL,
          `Bad envelope: MessagePack nested over ${MAX_MSGPACK_DEPTH} deep`,
        )
      if (Array.isArray(value)) {
        for (const item of value) checkPlain(item, depth + 1)
        return
      }
      const proto = Object.getPrototypeOf(value)
      if (proto === Object.prototype || proto === null) {
        for (const key in value) checkPlain((value as Record<string, unknown>)[key], depth + 1)
        return
      }
      break
    }
  }
  throw new ProtocolError(ErrorCodes.PROTOCOL, 'Bad envelope: MessagePack value of a type JSON cannot carry')
}

function payloadsFor(codec: PayloadCodecName): Payloads {
  // formatOf for one codec, without a wrapper call per message.
  const structured = codec === 'msgpack' ? Format.MSGPACK : Format.JSON
  return {
    formatOf: (data) =>
      data === undefined ? Format.EMPTY : data instanceof Uint8Array ? Format.RAW : structured,
    encode: encodeBody,
    length: bodyLength,
    write: writeBody,
    decode: decodePayload,
    decodeStored: decodeBody,
    alloc: (size) => Buffer.allocUnsafe(size),
  }
}

const jsonPayloads = payloadsFor('json')
const msgpackPayloads = payloadsFor('msgpack')

/** How Node sessions encode payloads: strings written straight into Buffers, MessagePack by msgpackr. */
export function nodePayloads(codec: PayloadCodecName): Payloads {
  return codec === 'msgpack' ? msgpackPayloads : jsonPayloads
}
