// The messaging envelope on plain Uint8Array/DataView: the same layout as ../envelope.ts (see its
// diagram), for code that must run in browsers, where there is no Buffer. One envelope in, one out;
// no frame prefix (a WebSocket message is the frame).

import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../../errors.ts'
import { Flag, Format, Kind } from './kinds.ts'

export { Flag, Format, Kind }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
const TWO_32 = 0x1_0000_0000

/** A decoded envelope; `payload` is a view of the message. */
export type Message = {
  kind: number
  format: number
  seq: number
  ack: number
  id: number
  name: string
  payload: Uint8Array
}

export type Outgoing = {
  kind: number
  seq?: number
  ack?: number
  id?: number
  name?: string
  /** Application data (JSON unless a Uint8Array), or undefined for none. */
  data?: unknown
  /** An already encoded body, with its format. */
  body?: Uint8Array
  format?: number
}

function bad(message: string): never {
  throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: ${message}`)
}

/** Encodes a payload: raw bytes as they are, anything else as JSON; undefined is empty. */
export function encodeData(data: unknown): { format: number; body: Uint8Array | undefined } {
  if (data === undefined) return { format: Format.EMPTY, body: undefined }
  if (data instanceof Uint8Array) return { format: Format.RAW, body: data }
  let text: string
  try {
    text = JSON.stringify(data)
  } catch (error) {
    throw new InvalidArgumentError(`Cannot encode message data as JSON: ${(error as Error).message}`)
  }
  return { format: Format.JSON, body: encoder.encode(text) }
}

/** Encodes a name (1..255 UTF-8 bytes). */
export function encodeName(name: string): Uint8Array {
  if (typeof name !== 'string' || name === '')
    throw new InvalidArgumentError('An event or method name is required')
  const bytes = encoder.encode(name)
  if (bytes.length > 255)
    throw new InvalidArgumentError(`Name "${name.slice(0, 32)}…" is longer than 255 bytes`)
  return bytes
}

/** One envelope as bytes. */
export function encodeEnvelope(out: Outgoing): Uint8Array {
  let format = out.format
  let body = out.body
  if (format === undefined) ({ format, body } = encodeData(out.data))
  let flags = format
  let size = 2
  const name = out.name ? encodeName(out.name) : undefined
  if (out.seq !== undefined) flags |= Flag.SEQ
  if (out.ack !== undefined) flags |= Flag.ACK
  if (out.id !== undefined) flags |= Flag.ID
  if (name !== undefined) flags |= Flag.NAME
  if (flags & Flag.SEQ) size += 6
  if (flags & Flag.ACK) size += 6
  if (flags & Flag.ID) size += 4
  if (name !== undefined) size += 1 + name.length
  const bytes = new Uint8Array(size + (body?.length ?? 0))
  const view = new DataView(bytes.buffer)
  bytes[0] = out.kind
  bytes[1] = flags
  let at = 2
  const u48 = (value: number) => {
    const lo = value % TWO_32
    view.setUint32(at, lo, true)
    view.setUint16(at + 4, (value - lo) / TWO_32, true)
    at += 6
  }
  if (out.seq !== undefined) u48(out.seq)
  if (out.ack !== undefined) u48(out.ack)
  if (out.id !== undefined) {
    view.setUint32(at, out.id, true)
    at += 4
  }
  if (name !== undefined) {
    bytes[at++] = name.length
    bytes.set(name, at)
    at += name.length
  }
  if (body !== undefined) bytes.set(body, at)
  return bytes
}

/** Reads one envelope; throws ProtocolError (WK_PROTOCOL) on anything malformed. */
export function decodeEnvelope(bytes: Uint8Array): Message {
  const length = bytes.length
  if (length < 2) bad(`frame of ${length} byte(s) is shorter than the 2-byte header`)
  const kind = bytes[0]!
  const flags = bytes[1]!
  if (kind === 0 || kind > Kind.BYE) bad(`unknown kind ${kind}`)
  if (flags & ~0b111111) bad(`unknown flags 0x${flags.toString(16)}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, length)
  let at = 2
  const need = (n: number, what: string) => {
    if (at + n > length) bad(`truncated ${what}`)
  }
  const u48 = () => {
    const value = view.getUint32(at, true) + view.getUint16(at + 4, true) * TWO_32
    at += 6
    return value
  }
  let seq = 0
  let ack = 0
  let id = 0
  let name = ''
  if (flags & Flag.SEQ) {
    need(6, 'sequence number')
    seq = u48()
    if (seq === 0) bad('sequence number 0')
  }
  if (flags & Flag.ACK) {
    need(6, 'ack')
    ack = u48()
  }
  if (flags & Flag.ID) {
    need(4, 'request id')
    id = view.getUint32(at, true)
    at += 4
  }
  if (flags & Flag.NAME) {
    need(1, 'name length')
    const n = bytes[at++]!
    need(n, 'name')
    name = text(bytes.subarray(at, at + n))
    at += n
  }
  return { kind, format: flags & Flag.FORMAT_MASK, seq, ack, id, name, payload: bytes.subarray(at) }
}

function text(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes)
  } catch {
    return bad('name is not UTF-8')
  }
}

/** Decodes a payload: JSON, raw bytes (copied), or nothing. MessagePack is not spoken here. */
export function decodeData(message: Message): unknown {
  const { format, payload } = message
  if (format === Format.EMPTY) {
    if (payload.length > 0) bad('bytes after empty payload')
    return undefined
  }
  if (format === Format.RAW) return payload.slice()
  if (format !== Format.JSON) bad('MessagePack payloads are not supported by this client')
  try {
    return JSON.parse(text(payload))
  } catch (error) {
    if (error instanceof ProtocolError) throw error
    return bad('payload is not valid JSON')
  }
}
