// Envelopes on plain Uint8Array, for the hot path of every runtime: headers written in place into an
// output batch (behind the 4-byte big-endian frame length of the messaging wire), and frames decoded
// into one reused record. Browser-safe: no Buffer, no node: imports. Layout: see ../envelope.ts.

import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../../errors.ts'
import { Flag, Format, Kind } from './kinds.ts'

/** Largest event or method name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255
/** Largest header an envelope can have (kind, flags, seq, ack, id, name). */
export const MAX_HEADER_BYTES = 2 + 6 + 6 + 4 + 1 + MAX_NAME_BYTES
/** Bytes of the frame length written before each envelope in a batch. */
export const FRAME_PREFIX_BYTES = 4

const MAX_KIND = Kind.BYE
const KNOWN_FLAGS = 0b111111
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

function readU48(frame: Uint8Array, at: number): number {
  return (
    (frame[at]! | (frame[at + 1]! << 8) | (frame[at + 2]! << 16)) +
    frame[at + 3]! * 0x100_0000 +
    (frame[at + 4]! | (frame[at + 5]! << 8)) * TWO_32
  )
}

/** Reads the header of `frame` into `out`; throws ProtocolError (WK_PROTOCOL) on anything malformed. */
export function decodeEnvelope(frame: Uint8Array, out: Envelope): Envelope {
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
    id = (frame[at]! | (frame[at + 1]! << 8) | (frame[at + 2]! << 16)) + frame[at + 3]! * 0x100_0000
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

function writeU48(target: Uint8Array, value: number, at: number): void {
  const lo = value < TWO_32 ? value : value % TWO_32
  target[at] = lo
  target[at + 1] = lo >>> 8
  target[at + 2] = lo >>> 16
  target[at + 3] = lo >>> 24
  const hi = value < TWO_32 ? 0 : (value - lo) / TWO_32
  target[at + 4] = hi
  target[at + 5] = hi >>> 8
}

/**
 * Writes an envelope header at `at` in `target`, returns the offset where the payload goes.
 * `target` must have room for `headerLength(flags, nameBytes)` bytes.
 */
export function writeHeader(
  target: Uint8Array,
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
    target[at] = id
    target[at + 1] = id >>> 8
    target[at + 2] = id >>> 16
    target[at + 3] = id >>> 24
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

/** Writes the 4-byte big-endian frame length of an envelope of `size` bytes at `at`. */
export function writeFramePrefix(target: Uint8Array, at: number, size: number): void {
  target[at] = size >>> 24
  target[at + 1] = size >>> 16
  target[at + 2] = size >>> 8
  target[at + 3] = size
}

// Decoded names by their bytes: a stream repeats a handful of names, so each is decoded once, not per
// frame. The table is direct-mapped by a hash seeded per process: a name that misses replaces only the
// one name in its slot, which takes it back on its next use. So junk names from one client cannot fill
// the table for everyone (a first-come table could be filled once and stay full), nor aim at a slot.
const NAME_SLOTS = 256
const slotBytes: (Uint8Array | undefined)[] = new Array(NAME_SLOTS).fill(undefined)
const slotNames: string[] = new Array(NAME_SLOTS).fill('')
const NAME_SEED = (Math.random() * 0x1_0000_0000) >>> 0
// Not fatal, like Buffer#toString: a name with bad UTF-8 arrives with U+FFFD in it.
const textDecoder = new TextDecoder()
const textEncoder = new TextEncoder()

function slotOf(bytes: Uint8Array, at: number, n: number): number {
  let h = NAME_SEED ^ n
  for (let i = 0; i < n; i++) h = Math.imul(h ^ bytes[at + i]!, 0x01000193)
  return (h ^ (h >>> 16)) & (NAME_SLOTS - 1)
}

function decodeName(frame: Uint8Array, at: number, n: number): string {
  const slot = slotOf(frame, at, n)
  const bytes = slotBytes[slot]
  if (bytes !== undefined && bytes.length === n) {
    let i = 0
    while (i < n && bytes[i] === frame[at + i]) i++
    if (i === n) return slotNames[slot]!
  }
  const copy = frame.slice(at, at + n)
  const name = textDecoder.decode(copy)
  slotBytes[slot] = copy
  slotNames[slot] = name
  return name
}

/** Whether `name` is in the decoded-name cache right now (for tests and diagnostics). */
export function isNameCached(name: string): boolean {
  const bytes = textEncoder.encode(name)
  const slot = slotOf(bytes, 0, bytes.length)
  const cached = slotBytes[slot]
  return (
    slotNames[slot] === name &&
    cached !== undefined &&
    cached.length === bytes.length &&
    cached.every((b, i) => b === bytes[i])
  )
}

// Encoded event and method names: an application uses a handful, so each is encoded once.
const names = new Map<string, Uint8Array>()
const MAX_CACHED_NAMES = 1024

// A stream usually repeats one name: the last one is checked before the map.
let lastName = ''
let lastNameBytes: Uint8Array = new Uint8Array(0)

function nameBytes(name: string): Uint8Array {
  if (name === lastName) return lastNameBytes
  let bytes = names.get(name)
  if (bytes === undefined) {
    bytes = textEncoder.encode(name)
    if (names.size < MAX_CACHED_NAMES) names.set(name, bytes)
  }
  lastName = name
  lastNameBytes = bytes
  return bytes
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
