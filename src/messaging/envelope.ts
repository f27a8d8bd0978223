// The messaging envelope: the compact binary header inside every length-field frame.
// Encoding writes into a caller's buffer (no allocation per frame); decoding fills one reused
// record so the read loop allocates nothing but the payload it hands to the application.
//
//   byte 0      kind      (HELLO, WELCOME, EVENT, VOLATILE, REQUEST, RESPONSE, ERROR, ACK, PING, PONG, GOAWAY, BYE)
//   byte 1      flags     bits 0-1 payload format (json | msgpack | raw | empty), then SEQ, ACK, ID, NAME
//   [6 bytes]   sequence  uint48 LE, when SEQ: every reliable message (event, request, response, error)
//   [6 bytes]   ack       uint48 LE, when ACK: cumulative, "I have everything up to here"
//   [4 bytes]   request id uint32 LE, when ID: pairs a response with its request
//   [1 + n]     name      length byte + UTF-8, when NAME: event or method name (≤ 255 bytes)
//   rest        payload   in the format named by the flags

import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../errors.ts'

/** Frame kinds. A number that is not listed here is a protocol error. */
export const Kind = {
  HELLO: 1,
  WELCOME: 2,
  EVENT: 3,
  VOLATILE: 4,
  REQUEST: 5,
  RESPONSE: 6,
  ERROR: 7,
  ACK: 8,
  PING: 9,
  PONG: 10,
  GOAWAY: 11,
  BYE: 12,
} as const
export type Kind = (typeof Kind)[keyof typeof Kind]
const MAX_KIND = 12

/** Payload formats, stored in the low two bits of the flags. */
export const Format = { JSON: 0, MSGPACK: 1, RAW: 2, EMPTY: 3 } as const
export type Format = (typeof Format)[keyof typeof Format]

export const Flag = { FORMAT_MASK: 0b11, SEQ: 1 << 2, ACK: 1 << 3, ID: 1 << 4, NAME: 1 << 5 } as const
const KNOWN_FLAGS = 0b111111

/** Largest event or method name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255
/** Largest header an envelope can have (kind, flags, seq, ack, id, name). */
export const MAX_HEADER_BYTES = 2 + 6 + 6 + 4 + 1 + MAX_NAME_BYTES

const TWO_32 = 0x1_0000_0000

/** One decoded envelope. The read loop reuses a single instance: copy what must outlive the frame. */
export type Envelope = {
  kind: Kind
  flags: number
  format: Format
  seq: number
  ack: number
  id: number
  name: string
  /** Offset of the payload within the frame. */
  payloadStart: number
}

export function newEnvelope(): Envelope {
  return { kind: Kind.PING, flags: 0, format: Format.EMPTY, seq: 0, ack: 0, id: 0, name: '', payloadStart: 0 }
}

function bad(message: string): never {
  throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: ${message}`)
}

/** Reads the header of `frame` into `out`; throws ProtocolError (WK_PROTOCOL) on anything malformed. */
export function decodeEnvelope(frame: Buffer, out: Envelope): Envelope {
  const length = frame.length
  if (length < 2) bad(`frame of ${length} byte(s) is shorter than the 2-byte header`)
  const kind = frame[0]!
  const flags = frame[1]!
  if (kind === 0 || kind > MAX_KIND) bad(`unknown kind ${kind}`)
  if ((flags & ~KNOWN_FLAGS) !== 0) bad(`unknown flags 0x${flags.toString(16)}`)
  let at = 2
  let seq = 0
  let ack = 0
  let id = 0
  let name = ''
  if (flags & Flag.SEQ) {
    if (at + 6 > length) bad('truncated sequence number')
    seq = readU48(frame, at)
    if (seq === 0) bad('sequence number 0')
    at += 6
  }
  if (flags & Flag.ACK) {
    if (at + 6 > length) bad('truncated ack')
    ack = readU48(frame, at)
    at += 6
  }
  if (flags & Flag.ID) {
    if (at + 4 > length) bad('truncated request id')
    id = frame.readUInt32LE(at)
    at += 4
  }
  if (flags & Flag.NAME) {
    if (at + 1 > length) bad('truncated name length')
    const n = frame[at]!
    at += 1
    if (at + n > length) bad('truncated name')
    name = decodeName(frame, at, n)
    at += n
  }
  out.kind = kind as Kind
  out.flags = flags
  out.format = (flags & Flag.FORMAT_MASK) as Format
  out.seq = seq
  out.ack = ack
  out.id = id
  out.name = name
  out.payloadStart = at
  return out
}

/** Header bytes for an envelope with these fields (the payload comes on top). */
export function headerLength(flags: number, nameBytes: number): number {
  let n = 2
  if (flags & Flag.SEQ) n += 6
  if (flags & Flag.ACK) n += 6
  if (flags & Flag.ID) n += 4
  if (flags & Flag.NAME) n += 1 + nameBytes
  return n
}

/**
 * Writes an envelope header at `at` in `target`, returns the offset where the payload goes.
 * `target` must have room for `headerLength(flags, nameBytes)` bytes.
 */
export function writeHeader(
  target: Buffer,
  at: number,
  kind: Kind,
  flags: number,
  seq: number,
  ack: number,
  id: number,
  name: string,
): number {
  target[at] = kind
  target[at + 1] = flags
  at += 2
  if (flags & Flag.SEQ) {
    writeU48(target, seq, at)
    at += 6
  }
  if (flags & Flag.ACK) {
    writeU48(target, ack, at)
    at += 6
  }
  if (flags & Flag.ID) {
    target.writeUInt32LE(id, at)
    at += 4
  }
  if (flags & Flag.NAME) {
    const bytes = nameBytes(name)
    const n = bytes.length
    target[at] = n
    at += 1
    // Names are short: a byte loop beats a native call per message.
    for (let i = 0; i < n; i++) target[at + i] = bytes[i]!
    at += n
  }
  return at
}

// Decoded names by their bytes: a stream repeats a handful of names, so each is decoded once, not per
// frame. The table is direct-mapped by a hash seeded per process: a name that misses replaces only the
// one name in its slot, which takes it back on its next use. So junk names from one client cannot fill
// the table for everyone (a first-come table could be filled once and stay full), nor aim at a slot.
const NAME_SLOTS = 256
const slotBytes: (Buffer | undefined)[] = new Array(NAME_SLOTS).fill(undefined)
const slotNames: string[] = new Array(NAME_SLOTS).fill('')
const NAME_SEED = (Math.random() * 0x1_0000_0000) >>> 0

function slotOf(bytes: Uint8Array, at: number, n: number): number {
  let h = NAME_SEED ^ n
  for (let i = 0; i < n; i++) h = Math.imul(h ^ bytes[at + i]!, 0x01000193)
  return (h ^ (h >>> 16)) & (NAME_SLOTS - 1)
}

function decodeName(frame: Buffer, at: number, n: number): string {
  const slot = slotOf(frame, at, n)
  const bytes = slotBytes[slot]
  if (bytes !== undefined && bytes.length === n) {
    let i = 0
    while (i < n && bytes[i] === frame[at + i]) i++
    if (i === n) return slotNames[slot]!
  }
  const name = frame.toString('utf8', at, at + n)
  slotBytes[slot] = Buffer.from(frame.subarray(at, at + n))
  slotNames[slot] = name
  return name
}

/** Whether `name` is in the decoded-name cache right now (for tests and diagnostics). */
export function isNameCached(name: string): boolean {
  const bytes = Buffer.from(name, 'utf8')
  const slot = slotOf(bytes, 0, bytes.length)
  return slotNames[slot] === name && slotBytes[slot]?.equals(bytes) === true
}

// Encoded event and method names: an application uses a handful, so each is encoded once.
const names = new Map<string, Buffer>()
const MAX_CACHED_NAMES = 1024

// A stream usually repeats one name: the last one is checked before the map.
let lastName = ''
let lastNameBytes: Buffer = Buffer.alloc(0)

function nameBytes(name: string): Buffer {
  if (name === lastName) return lastNameBytes
  let bytes = names.get(name)
  if (bytes === undefined) {
    bytes = Buffer.from(name, 'utf8')
    if (names.size < MAX_CACHED_NAMES) names.set(name, bytes)
  }
  lastName = name
  lastNameBytes = bytes
  return bytes
}

function readU48(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt16LE(at + 4) * TWO_32
}

function writeU48(buf: Buffer, value: number, at: number): void {
  if (value < TWO_32) {
    // The common case (under 4 billion messages): no division.
    buf.writeUInt32LE(value, at)
    buf[at + 4] = 0
    buf[at + 5] = 0
    return
  }
  const lo = value % TWO_32
  buf.writeUInt32LE(lo, at)
  buf.writeUInt16LE((value - lo) / TWO_32, at + 4)
}

/** Validates an event or method name given by the application: 1..255 UTF-8 bytes. Returns its byte length. */
export function checkName(name: string): number {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError('An event or method name is required')
  }
  const bytes = nameBytes(name).length
  if (bytes > MAX_NAME_BYTES) {
    throw new InvalidArgumentError(`Name "${name.slice(0, 32)}…" is longer than ${MAX_NAME_BYTES} bytes`)
  }
  return bytes
}

/** A received event or request must name itself. */
export function requireName(name: string): string {
  if (name === '')
    throw new ProtocolError(ErrorCodes.PROTOCOL, 'Bad envelope: event or request without a name')
  return name
}
