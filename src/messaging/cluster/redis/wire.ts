// The bytes the Redis adapter puts in Redis: broadcasts (published and logged, encoded once per
// broadcast), batches of them as the publish script sends them, and stored session messages.
// Everything read back is checked: hostile or corrupt bytes raise ProtocolError, never crash.
//
//   broadcast  u32 length of the rest | u8 version | u8 flags (volatile, rooms, except) | u8 format |
//              u8 body kind | u8 origin length + origin | f64 origin sequence | u16 event length + event |
//              u16 rooms + (u16 length + room)* | u16 except + (u16 length + room)* | body
//   batch      "B <epoch> <first sequence> <count>\n" + broadcasts   (sequenced, from the publish script)
//              "V\n" + one broadcast                                 (volatile, not sequenced)

import { ErrorCodes, ProtocolError } from '../../../errors.ts'
import type { Format, Kind } from '../../wire/envelope.ts'
import type { Body } from '../../wire/payload-codec.ts'
import type { BroadcastMessage, BroadcastTarget, StoredMessage } from '../adapter.ts'

const VERSION = 1
const VOLATILE = 1
const HAS_ROOMS = 2
const HAS_EXCEPT = 4
const BODY_NONE = 0
const BODY_TEXT = 1
const BODY_BYTES = 2
const MAX_NAME = 0xffff
const NEWLINE = 0x0a

/** A broadcast as it travels between nodes. */
export type WireBroadcast = {
  message: BroadcastMessage
  target: BroadcastTarget
  /** The node that sent it, and its per-node sequence (deduplication of resends). */
  origin: string
  originSeq: number
}

function bad(what: string): never {
  throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad Redis adapter message: ${what}`)
}

function sizeOfSet(set: ReadonlySet<string> | undefined): number {
  let size = 2
  if (set !== undefined) for (const room of set) size += 2 + Buffer.byteLength(room)
  return size
}

function writeSet(out: Buffer, at: number, set: ReadonlySet<string> | undefined): number {
  at = out.writeUInt16BE(set?.size ?? 0, at)
  if (set === undefined) return at
  for (const room of set) {
    const n = out.write(room, at + 2)
    if (n > MAX_NAME) throw new ProtocolError(ErrorCodes.PROTOCOL, 'Room name too long to broadcast')
    out.writeUInt16BE(n, at)
    at += 2 + n
  }
  return at
}

/** Encodes a broadcast once; the same bytes are published, logged and decoded by every node. */
export function encodeBroadcast(wire: WireBroadcast): Buffer {
  const { message, target, origin, originSeq } = wire
  if (target.rooms !== undefined && target.rooms.size > MAX_NAME) bad('too many rooms')
  if (target.except !== undefined && target.except.size > MAX_NAME) bad('too many rooms')
  const body = message.body
  const bodyBytes =
    body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
  const eventBytes = Buffer.byteLength(message.event)
  const originBytes = Buffer.byteLength(origin)
  if (originBytes > 255 || eventBytes > MAX_NAME) bad('origin or event name too long')
  const size =
    4 +
    4 +
    1 +
    originBytes +
    8 +
    2 +
    eventBytes +
    sizeOfSet(target.rooms) +
    sizeOfSet(target.except) +
    bodyBytes
  const out = Buffer.allocUnsafe(size)
  out.writeUInt32BE(size - 4, 0)
  out[4] = VERSION
  out[5] =
    (message.volatile ? VOLATILE : 0) |
    (target.rooms !== undefined ? HAS_ROOMS : 0) |
    (target.except !== undefined ? HAS_EXCEPT : 0)
  out[6] = message.format
  out[7] = body === undefined ? BODY_NONE : typeof body === 'string' ? BODY_TEXT : BODY_BYTES
  out[8] = originBytes
  let at = 9 + out.write(origin, 9, 'latin1')
  at = out.writeDoubleBE(originSeq, at)
  at = out.writeUInt16BE(eventBytes, at)
  at += out.write(message.event, at)
  at = writeSet(out, at, target.rooms)
  at = writeSet(out, at, target.except)
  if (typeof body === 'string') out.write(body, at)
  else if (body !== undefined) out.set(body, at)
  return out
}

class Reader {
  at: number
  readonly buf: Buffer
  readonly end: number
  constructor(buf: Buffer, start: number, end: number) {
    this.buf = buf
    this.at = start
    this.end = end
  }
  need(n: number): void {
    if (this.at + n > this.end) bad('truncated')
  }
  u8(): number {
    this.need(1)
    return this.buf[this.at++]!
  }
  u16(): number {
    this.need(2)
    const v = this.buf.readUInt16BE(this.at)
    this.at += 2
    return v
  }
  f64(): number {
    this.need(8)
    const v = this.buf.readDoubleBE(this.at)
    this.at += 8
    return v
  }
  text(n: number, encoding: 'utf8' | 'latin1' = 'utf8'): string {
    this.need(n)
    const v = this.buf.toString(encoding, this.at, this.at + n)
    this.at += n
    return v
  }
  set(): Set<string> {
    const count = this.u16()
    const set = new Set<string>()
    for (let i = 0; i < count; i++) set.add(this.text(this.u16()))
    return set
  }
}

/** Decodes one broadcast starting at `at`; returns it and the offset after it. */
export function decodeBroadcast(buf: Buffer, at = 0): { wire: WireBroadcast; next: number } {
  if (at + 4 > buf.length) bad('truncated length')
  const end = at + 4 + buf.readUInt32BE(at)
  if (end > buf.length) bad('length past the end')
  const r = new Reader(buf, at + 4, end)
  if (r.u8() !== VERSION) bad('unknown version')
  const flags = r.u8()
  const format = r.u8()
  const bodyKind = r.u8()
  if (format > 3 || bodyKind > BODY_BYTES) bad('unknown format')
  const origin = r.text(r.u8(), 'latin1')
  const originSeq = r.f64()
  if (!Number.isSafeInteger(originSeq) || originSeq < 0) bad('bad origin sequence')
  const event = r.text(r.u16())
  // Both sets are always written (empty when absent); the flags say whether they apply.
  const roomSet = r.set()
  const exceptSet = r.set()
  const rooms = flags & HAS_ROOMS ? roomSet : undefined
  const except = flags & HAS_EXCEPT ? exceptSet : undefined
  let body: Body
  if (bodyKind === BODY_TEXT) body = buf.toString('utf8', r.at, end)
  else if (bodyKind === BODY_BYTES) body = Buffer.from(buf.subarray(r.at, end))
  else if (r.at !== end) bad('bytes after an empty body')
  const message: BroadcastMessage = {
    event,
    format: format as Format,
    body,
    volatile: (flags & VOLATILE) !== 0,
  }
  return { wire: { message, target: { rooms, except }, origin, originSeq }, next: end }
}

/** A published batch, parsed: sequenced broadcasts, or one volatile broadcast. */
export type Batch =
  | { kind: 'sequenced'; epoch: string; first: number; broadcasts: WireBroadcast[] }
  | { kind: 'volatile'; broadcast: WireBroadcast }

const MAX_BATCH_HEADER = 96

/** Parses what the broadcast channel carries. */
export function decodeBatch(buf: Buffer): Batch {
  const nl = buf.indexOf(NEWLINE, 0)
  if (nl < 0 || nl > MAX_BATCH_HEADER) bad('no batch header')
  const header = buf.toString('latin1', 0, nl).split(' ')
  if (header[0] === 'V' && header.length === 1) {
    const { wire, next } = decodeBroadcast(buf, nl + 1)
    if (next !== buf.length) bad('bytes after a volatile broadcast')
    return { kind: 'volatile', broadcast: wire }
  }
  if (header[0] !== 'B' || header.length !== 4) bad('unknown batch header')
  const epoch = header[1]!
  const first = Number(header[2])
  const count = Number(header[3])
  if (!Number.isSafeInteger(first) || first < 1 || !Number.isSafeInteger(count) || count < 1)
    bad('bad batch numbers')
  const broadcasts: WireBroadcast[] = []
  let at = nl + 1
  for (let i = 0; i < count; i++) {
    const { wire, next } = decodeBroadcast(buf, at)
    broadcasts.push(wire)
    at = next
  }
  if (at !== buf.length) bad('bytes after the batch')
  return { kind: 'sequenced', epoch, first, broadcasts }
}

/** A volatile broadcast as published (not sequenced, not logged). */
export function volatileBatch(encoded: Buffer): Buffer {
  return Buffer.concat([VOLATILE_HEADER, encoded])
}
const VOLATILE_HEADER = Buffer.from('V\n', 'latin1')

// ——— stored session messages ———
//   f64 seq | u8 kind | u8 flags | u32 id | u8 format | u8 body kind | u16 name length + name | body

/** Encodes a message of a session's outbox for its Redis list. */
export function encodeStored(m: StoredMessage): Buffer {
  const nameBytes = Buffer.byteLength(m.name)
  const out = Buffer.allocUnsafe(8 + 1 + 1 + 4 + 1 + 1 + 2 + nameBytes + m.bodyBytes)
  out.writeDoubleBE(m.seq, 0)
  out[8] = m.kind
  out[9] = m.flags
  out.writeUInt32BE(m.id >>> 0, 10)
  out[14] = m.format
  const body = m.body
  out[15] = body === undefined ? BODY_NONE : typeof body === 'string' ? BODY_TEXT : BODY_BYTES
  out.writeUInt16BE(nameBytes, 16)
  let at = 18 + out.write(m.name, 18)
  if (typeof body === 'string') at += out.write(body, at)
  else if (body !== undefined) out.set(body, at)
  return out
}

/** Decodes a stored message; `size` (the envelope size) is recomputed by the caller's rules. */
export function decodeStored(buf: Buffer): Omit<StoredMessage, 'size'> {
  const r = new Reader(buf, 0, buf.length)
  const seq = r.f64()
  if (!Number.isSafeInteger(seq) || seq < 1) bad('bad stored sequence')
  const kind = r.u8() as Kind
  const flags = r.u8()
  r.need(4)
  const id = buf.readUInt32BE(r.at)
  r.at += 4
  const format = r.u8()
  const bodyKind = r.u8()
  if (format > 3 || bodyKind > BODY_BYTES) bad('unknown stored format')
  const name = r.text(r.u16())
  let body: Body
  if (bodyKind === BODY_TEXT) body = buf.toString('utf8', r.at)
  else if (bodyKind === BODY_BYTES) body = Buffer.from(buf.subarray(r.at))
  const bodyBytes = buf.length - r.at
  return { seq, kind, flags, id, name, format: format as Format, body, bodyBytes }
}
