// AMF0 (Adobe's Action Message Format 0): the value encoding of RTMP commands and metadata.
// Sans-I/O: bytes in, values out. The decoder never allocates by a count the peer sent (a strict
// array's count is checked against the bytes left), nests at most MAX_DEPTH deep, and fails with
// ProtocolError WK_RTMP_AMF on anything it cannot read.
import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../errors.ts'

/** A decoded AMF0 value. Objects, ECMA arrays and typed objects all decode to plain objects. */
export type AmfValue = number | boolean | string | null | undefined | Date | AmfValue[] | AmfObject
export type AmfObject = { [key: string]: AmfValue }

const NUMBER = 0x00
const BOOLEAN = 0x01
const STRING = 0x02
const OBJECT = 0x03
const NULL = 0x05
const UNDEFINED = 0x06
const REFERENCE = 0x07
const ECMA_ARRAY = 0x08
const OBJECT_END = 0x09
const STRICT_ARRAY = 0x0a
const DATE = 0x0b
const LONG_STRING = 0x0c
const UNSUPPORTED = 0x0d
const XML_DOCUMENT = 0x0f
const TYPED_OBJECT = 0x10

const MAX_DEPTH = 64

function amfError(message: string): ProtocolError {
  return new ProtocolError(ErrorCodes.RTMP_AMF, `AMF0: ${message}`)
}

/** Decodes every value in `bytes` (a command: name, transaction id, command object, arguments…). */
export function decodeAmf0(bytes: Uint8Array): AmfValue[] {
  const reader = new AmfReader(bytes)
  const values: AmfValue[] = []
  while (reader.offset < bytes.length) values.push(reader.value(0))
  return values
}

/** Decodes one value at `offset`; returns it and the offset after it. */
export function decodeAmf0Value(bytes: Uint8Array, offset = 0): { value: AmfValue; end: number } {
  const reader = new AmfReader(bytes, offset)
  const value = reader.value(0)
  return { value, end: reader.offset }
}

class AmfReader {
  readonly #bytes: Buffer
  offset: number

  constructor(bytes: Uint8Array, offset = 0) {
    this.#bytes = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
    this.offset = offset
  }

  #need(n: number): void {
    if (this.offset + n > this.#bytes.length) throw amfError(`truncated value at byte ${this.offset}`)
  }

  value(depth: number): AmfValue {
    if (depth > MAX_DEPTH) throw amfError(`nested deeper than ${MAX_DEPTH}`)
    this.#need(1)
    const marker = this.#bytes[this.offset++]!
    switch (marker) {
      case NUMBER:
        this.#need(8)
        this.offset += 8
        return this.#bytes.readDoubleBE(this.offset - 8)
      case BOOLEAN:
        this.#need(1)
        return this.#bytes[this.offset++] !== 0
      case STRING:
        return this.#string(2)
      case LONG_STRING:
      case XML_DOCUMENT:
        return this.#string(4)
      case OBJECT:
        return this.#properties(depth)
      case TYPED_OBJECT:
        this.#string(2) // the class name: not kept
        return this.#properties(depth)
      case ECMA_ARRAY:
        this.#need(4)
        this.offset += 4 // an advisory count; the end marker is what ends it
        return this.#properties(depth)
      case STRICT_ARRAY: {
        this.#need(4)
        const count = this.#bytes.readUInt32BE(this.offset)
        this.offset += 4
        // Every value takes at least one byte: a count beyond the bytes left is a lie, refused before any loop.
        if (count > this.#bytes.length - this.offset)
          throw amfError(`strict array of ${count} values in fewer bytes`)
        const items: AmfValue[] = []
        for (let i = 0; i < count; i++) items.push(this.value(depth + 1))
        return items
      }
      case DATE: {
        this.#need(10)
        const ms = this.#bytes.readDoubleBE(this.offset)
        this.offset += 10 // the time zone is reserved and ignored
        return new Date(ms)
      }
      case NULL:
        return null
      case UNDEFINED:
      case UNSUPPORTED:
        return undefined
      case REFERENCE:
        throw amfError('references are not supported')
      case OBJECT_END:
        throw amfError('object end outside an object')
      default:
        throw amfError(`unknown type marker 0x${marker.toString(16)}`)
    }
  }

  #string(width: 2 | 4): string {
    this.#need(width)
    const length = width === 2 ? this.#bytes.readUInt16BE(this.offset) : this.#bytes.readUInt32BE(this.offset)
    this.offset += width
    this.#need(length)
    this.offset += length
    return this.#bytes.toString('utf8', this.offset - length, this.offset)
  }

  #properties(depth: number): AmfObject {
    const object: AmfObject = {}
    for (;;) {
      const key = this.#string(2)
      if (key === '') {
        this.#need(1)
        if (this.#bytes[this.offset] === OBJECT_END) {
          this.offset++
          return object
        }
      }
      const value = this.value(depth + 1)
      // A key named __proto__ must stay data, never become the object's prototype.
      if (key === '__proto__') Object.defineProperty(object, key, { value, enumerable: true, writable: true })
      else object[key] = value
    }
  }
}

/** Marks an object to be encoded as an AMF0 ECMA array (what onMetaData usually is). */
export class AmfEcmaArray {
  readonly properties: AmfObject
  constructor(properties: AmfObject) {
    this.properties = properties
  }
}

export type AmfEncodable = AmfValue | AmfEcmaArray | AmfEncodable[] | { [key: string]: AmfEncodable }

/** Encodes values one after another (a command is its name, transaction id, then its arguments). */
export function encodeAmf0(...values: AmfEncodable[]): Buffer {
  const parts: Buffer[] = []
  for (const value of values) writeValue(parts, value, 0)
  return Buffer.concat(parts)
}

function writeValue(parts: Buffer[], value: AmfEncodable, depth: number): void {
  if (depth > MAX_DEPTH) throw new InvalidArgumentError(`AMF0: nested deeper than ${MAX_DEPTH}`)
  if (value === null) parts.push(Buffer.of(NULL))
  else if (value === undefined) parts.push(Buffer.of(UNDEFINED))
  else if (typeof value === 'number') {
    const b = Buffer.allocUnsafe(9)
    b[0] = NUMBER
    b.writeDoubleBE(value, 1)
    parts.push(b)
  } else if (typeof value === 'boolean') parts.push(Buffer.of(BOOLEAN, value ? 1 : 0))
  else if (typeof value === 'string') {
    const text = Buffer.from(value, 'utf8')
    if (text.length > 0xffff) {
      const head = Buffer.allocUnsafe(5)
      head[0] = LONG_STRING
      head.writeUInt32BE(text.length, 1)
      parts.push(head, text)
    } else parts.push(Buffer.of(STRING, text.length >> 8, text.length & 0xff), text)
  } else if (value instanceof Date) {
    const b = Buffer.alloc(11)
    b[0] = DATE
    b.writeDoubleBE(value.getTime(), 1)
    parts.push(b)
  } else if (Array.isArray(value)) {
    const head = Buffer.allocUnsafe(5)
    head[0] = STRICT_ARRAY
    head.writeUInt32BE(value.length, 1)
    parts.push(head)
    for (const item of value) writeValue(parts, item, depth + 1)
  } else if (value instanceof AmfEcmaArray) {
    const head = Buffer.allocUnsafe(5)
    head[0] = ECMA_ARRAY
    head.writeUInt32BE(Object.keys(value.properties).length, 1)
    parts.push(head)
    writeProperties(parts, value.properties, depth)
  } else if (typeof value === 'object') {
    parts.push(Buffer.of(OBJECT))
    writeProperties(parts, value as Record<string, AmfEncodable>, depth)
  } else throw new InvalidArgumentError(`AMF0: cannot encode a ${typeof value}`)
}

function writeProperties(parts: Buffer[], object: Record<string, AmfEncodable>, depth: number): void {
  for (const key of Object.keys(object)) {
    const name = Buffer.from(key, 'utf8')
    if (name.length === 0 || name.length > 0xffff)
      throw new InvalidArgumentError(`AMF0: property names are 1..65535 bytes, got ${name.length}`)
    parts.push(Buffer.of(name.length >> 8, name.length & 0xff), name)
    writeValue(parts, object[key], depth + 1)
  }
  parts.push(Buffer.of(0, 0, OBJECT_END))
}
