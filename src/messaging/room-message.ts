// The bytes of a durable room's publication and gap as they travel from server to subscriber, inside
// the payload of an ordinary reliable event (raw format) with a reserved name. No I/O, browser-safe.
// The publication's own payload is carried as stored in the log (its format byte, then its body), so
// the server encodes it once for every subscriber and every replay.
//
//   publication: 0x01 | room (u8 length + UTF-8) | name (u8 + UTF-8) | epoch (u8 + ASCII) | offset u48 LE
//                | format u8 | body…
//   gap:         0x02 | room (u8 + UTF-8) | epoch (u8 + ASCII) | from u48 | to u48 | reason u8 (1 trimmed, 2 epoch)
//                | previous epoch (u8 + ASCII, empty when none) | previous offset u48

import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../errors.ts'

/** The reserved event name room messages travel under; applications cannot emit it. */
export const ROOM_EVENT = 'wirekit:room'
/** Request methods of the subscribe protocol. */
export const SUBSCRIBE_METHOD = 'wirekit:subscribe'
export const UNSUBSCRIBE_METHOD = 'wirekit:unsubscribe'

const PUBLICATION = 1
const GAP = 2
const MAX_EPOCH = 64
const TWO_32 = 0x1_0000_0000
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export type RoomPublication = {
  type: 'publication'
  room: string
  name: string
  epoch: string
  offset: number
  /** The payload format (envelope Format); its body is `bytes` from `bodyStart` on (no copy, no view). */
  format: number
  bytes: Uint8Array
  bodyStart: number
}

export type RoomGap = {
  type: 'gap'
  room: string
  epoch: string
  from: number
  to: number
  reason: 'trimmed' | 'epoch'
  previous?: { offset: number; epoch: string }
}

function bad(message: string): never {
  throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad room message: ${message}`)
}

// A stream repeats one room, name and epoch: the last few encodings and decodings are kept, so a
// publication costs no TextEncoder/TextDecoder call for them (they were ~10% of a durable fan-out).
const MEMO = 8
const encoded = new Map<string, Uint8Array>()
type Decoded = { bytes: Uint8Array; value: string }
const decoded: Decoded[] = []

function text(value: string, what: string, max: number): Uint8Array {
  let bytes = encoded.get(value)
  if (bytes === undefined) {
    bytes = encoder.encode(value)
    if (encoded.size >= MEMO) encoded.clear()
    encoded.set(value, bytes)
  }
  if (bytes.length > max)
    throw new InvalidArgumentError(`${what} "${value.slice(0, 32)}" is longer than ${max} bytes`)
  return bytes
}

function sameBytes(a: Uint8Array, source: Uint8Array, at: number, n: number): boolean {
  if (a.length !== n) return false
  for (let i = 0; i < n; i++) if (a[i] !== source[at + i]) return false
  return true
}

/** The last string read for each field (room, name, epoch): a stream mostly repeats them. */
const lastRead: (Decoded | undefined)[] = [undefined, undefined, undefined]
const ROOM = 0
const NAME = 1
const EPOCH = 2

/** UTF-8 bytes `at`..`at + n` of `source` as a string (throws on bad UTF-8), from the memo when seen. */
function decodeText(source: Uint8Array, at: number, n: number, field: number): string {
  const last = lastRead[field]
  if (last !== undefined && sameBytes(last.bytes, source, at, n)) return last.value
  for (const d of decoded) {
    if (sameBytes(d.bytes, source, at, n)) {
      lastRead[field] = d
      return d.value
    }
  }
  // A copy (Buffer#slice would be a view): `source` may be a read buffer that is reused.
  const bytes = Uint8Array.prototype.slice.call(source, at, at + n)
  const value = decoder.decode(bytes)
  if (decoded.length >= MEMO) decoded.shift()
  const d = { bytes, value }
  decoded.push(d)
  lastRead[field] = d
  return value
}

function writeU48(target: Uint8Array, at: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** 48)
    throw new InvalidArgumentError(`offset ${value} out of range`)
  const low = value % TWO_32
  const high = Math.floor(value / TWO_32)
  target[at] = low & 0xff
  target[at + 1] = (low >>> 8) & 0xff
  target[at + 2] = (low >>> 16) & 0xff
  target[at + 3] = (low >>> 24) & 0xff
  target[at + 4] = high & 0xff
  target[at + 5] = (high >>> 8) & 0xff
}

function readU48(source: Uint8Array, at: number): number {
  const low = (source[at]! | (source[at + 1]! << 8) | (source[at + 2]! << 16)) + source[at + 3]! * 0x100_0000
  return low + (source[at + 4]! | (source[at + 5]! << 8)) * TWO_32
}

/** A log entry's stored bytes: the payload format, then the body. */
export function storedPayload(format: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + body.length)
  out[0] = format
  out.set(body, 1)
  return out
}

const newBytes = (size: number): Uint8Array => new Uint8Array(size)

/**
 * A publication for subscribers; `stored` is the entry's data as kept in the log (format byte + body).
 * `alloc`: where the bytes go (the server passes Buffer.allocUnsafe: a slice of a pool instead of a
 * backing store of its own per message, which the GC must track).
 */
export function encodePublication(
  room: string,
  name: string,
  epoch: string,
  offset: number,
  stored: Uint8Array,
  alloc: (size: number) => Uint8Array = newBytes,
): Uint8Array {
  const r = text(room, 'Room', 255)
  const n = text(name, 'Name', 255)
  const e = text(epoch, 'Epoch', MAX_EPOCH)
  if (stored.length < 1) throw new InvalidArgumentError('A stored payload has at least its format byte')
  const out = alloc(1 + 1 + r.length + 1 + n.length + 1 + e.length + 6 + stored.length)
  out[0] = PUBLICATION
  let at = putText(out, 1, r)
  at = putText(out, at, n)
  at = putText(out, at, e)
  writeU48(out, at, offset)
  out.set(stored, at + 6)
  return out
}

function putText(out: Uint8Array, at: number, bytes: Uint8Array): number {
  out[at] = bytes.length
  out.set(bytes, at + 1)
  return at + 1 + bytes.length
}

export function encodeGap(gap: Omit<RoomGap, 'type'>): Uint8Array {
  const r = text(gap.room, 'Room', 255)
  const e = text(gap.epoch, 'Epoch', MAX_EPOCH)
  const p = text(gap.previous?.epoch ?? '', 'Epoch', MAX_EPOCH)
  const out = new Uint8Array(1 + 1 + r.length + 1 + e.length + 12 + 1 + 1 + p.length + 6)
  let at = 0
  out[at++] = GAP
  out[at++] = r.length
  out.set(r, at)
  at += r.length
  out[at++] = e.length
  out.set(e, at)
  at += e.length
  writeU48(out, at, gap.from)
  writeU48(out, at + 6, gap.to)
  at += 12
  out[at++] = gap.reason === 'trimmed' ? 1 : 2
  out[at++] = p.length
  out.set(p, at)
  at += p.length
  writeU48(out, at, gap.previous?.offset ?? 0)
  return out
}

// The decoder walks the bytes with a module-level cursor (no closure per message: it runs once per
// subscriber per publication). Every read checks the bounds; anything malformed throws ProtocolError.
let at = 0
let end = 0

function need(n: number, what: string): void {
  if (at + n > end) bad(`truncated ${what}`)
}

function readText(bytes: Uint8Array, what: string, max: number, field: number): string {
  need(1, `${what} length`)
  const n = bytes[at++]!
  if (n > max) bad(`${what} of ${n} bytes`)
  need(n, what)
  let value: string
  try {
    value = decodeText(bytes, at, n, field)
  } catch {
    bad(`${what} is not UTF-8`)
  }
  at += n
  return value
}

function readOffset(bytes: Uint8Array, what: string): number {
  need(6, what)
  const value = readU48(bytes, at)
  at += 6
  return value
}

/**
 * Decodes the room message in `bytes` from `start` (a received frame's payload is read in place; a
 * publication's body stays there too). Anything malformed throws ProtocolError (WK_PROTOCOL), never more.
 */
export function decodeRoomMessage(bytes: Uint8Array, start = 0): RoomPublication | RoomGap {
  const message = readRoomMessage(bytes, start)
  return message.type === 'gap' ? message : { ...message }
}

/** The one publication readRoomMessage fills in. */
const scratch: RoomPublication = {
  type: 'publication',
  room: '',
  name: '',
  epoch: '',
  offset: 0,
  format: 0,
  bytes: new Uint8Array(),
  bodyStart: 0,
}

/**
 * decodeRoomMessage for the receive path (once per subscriber per publication): a publication comes
 * back in one object reused for every call, valid until the next call; a gap is a new object.
 */
export function readRoomMessage(bytes: Uint8Array, start: number): RoomPublication | RoomGap {
  at = start
  end = bytes.length
  need(1, 'type')
  const type = bytes[at++]
  if (type === PUBLICATION) {
    const room = readText(bytes, 'room', 255, ROOM)
    const name = readText(bytes, 'name', 255, NAME)
    const epoch = readText(bytes, 'epoch', MAX_EPOCH, EPOCH)
    const offset = readOffset(bytes, 'offset')
    if (offset === 0) bad('offset 0')
    need(1, 'format')
    const format = bytes[at]!
    if (format > 3) bad(`format ${format}`)
    scratch.room = room
    scratch.name = name
    scratch.epoch = epoch
    scratch.offset = offset
    scratch.format = format
    scratch.bytes = bytes
    scratch.bodyStart = at + 1
    return scratch
  }
  if (type === GAP) {
    const room = readText(bytes, 'room', 255, ROOM)
    const epoch = readText(bytes, 'epoch', MAX_EPOCH, EPOCH)
    const from = readOffset(bytes, 'from')
    const to = readOffset(bytes, 'to')
    need(1, 'reason')
    const code = bytes[at++]
    if (code !== 1 && code !== 2) bad(`gap reason ${code}`)
    const previousEpoch = readText(bytes, 'previous epoch', MAX_EPOCH, EPOCH)
    const previousOffset = readOffset(bytes, 'previous offset')
    if (at !== end) bad('trailing bytes')
    const gap: RoomGap = { type: 'gap', room, epoch, from, to, reason: code === 1 ? 'trimmed' : 'epoch' }
    if (code === 2) gap.previous = { offset: previousOffset, epoch: previousEpoch }
    return gap
  }
  return bad(`unknown type ${type}`)
}
