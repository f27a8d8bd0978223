// Length-field framing: a header carrying the frame's length, with the parameters of Netty's
// LengthFieldBasedFrameDecoder and tokio-util's LengthDelimitedCodec. The decoder is the hot path
// of the messaging layer: frames inside one chunk are slices; only a frame spanning chunks is copied.
//
//   wire:  [ lengthFieldOffset bytes | length field | lengthAdjustment-adjusted body ... ]
//          |<------------ header (lengthFieldEndOffset) ------------>|
//   frame length = header + field value + lengthAdjustment;  frame out = wire frame minus initialBytesToStrip

import { type ErrorCode, ErrorCodes, InvalidArgumentError, ProtocolError } from '../errors.ts'
import type { FrameCodec, FrameDecoder } from './codec.ts'
import { checkRoom, describe, integerOption, MAX_BUFFER_LENGTH } from './validate.ts'

export type ByteOrder = 'big' | 'little'
export type LengthFieldWidth = 1 | 2 | 3 | 4 | 8

export type LengthFieldOptions = {
  /** Where the length field starts, in bytes from the start of the frame. The encoder zero-fills these bytes. @default 0 */
  lengthFieldOffset?: number
  /** Width of the length field in bytes. @default 4 */
  lengthFieldLength?: LengthFieldWidth
  /**
   * Added to the field's value to give the number of bytes after the length field (Netty's meaning):
   * `-lengthFieldEndOffset` when the length counts the header, positive when extra header bytes follow the field.
   * @default 0
   */
  lengthAdjustment?: number
  /**
   * Bytes cut from the start of each decoded frame.
   * @default lengthFieldOffset + lengthFieldLength (the header: frames come out as payloads, as in tokio-util)
   */
  initialBytesToStrip?: number
  /** Byte order of the length field. @default 'big' */
  byteOrder?: ByteOrder
  /**
   * Largest body accepted: the bytes after the length field (field value + lengthAdjustment). With the default
   * layout this is the payload size, so `1 << 20` accepts 1 MiB payloads. (Netty counts the header too:
   * Netty's maxFrameLength = this + lengthFieldOffset + lengthFieldLength.) Checked as soon as the field is read.
   * @default 8 * 1024 * 1024 (tokio-util's default)
   */
  maxFrameLength?: number
}

type FieldReader = (buf: Buffer, at: number) => number
type FieldWriter = (buf: Buffer, at: number, value: number) => void

/** Resolved options shared by the codec and its decoders. */
type Layout = {
  readonly offset: number
  readonly width: LengthFieldWidth
  readonly adjustment: number
  readonly strip: number
  readonly headerLength: number
  readonly maxBody: number
  readonly maxFieldValue: number
  readonly read: FieldReader
  readonly write: FieldWriter
}

const TWO_32 = 2 ** 32
const WIDTHS: readonly number[] = [1, 2, 3, 4, 8]
const CODEC = 'lengthField'
/**
 * What a partial frame reserves before more of it arrives. Frames up to this size are allocated once at
 * their exact size (the common case); bigger ones grow as their bytes come in.
 */
const INITIAL_CAPACITY = 16 * 1024

/**
 * A length-field codec.
 * @example
 * const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 20 })
 * socket.write(codec.encode(payload))
 */
export function lengthField(options: LengthFieldOptions = {}): FrameCodec {
  return new LengthFieldCodec(resolve(options))
}

function resolve(options: LengthFieldOptions): Layout {
  const offset = integerOption(CODEC, 'lengthFieldOffset', options.lengthFieldOffset ?? 0, 0, 1 << 16)
  const width = (options.lengthFieldLength ?? 4) as LengthFieldWidth
  if (!WIDTHS.includes(width)) {
    throw new InvalidArgumentError(
      `${CODEC}: lengthFieldLength must be 1, 2, 3, 4 or 8, got ${describe(width)}`,
    )
  }
  const order = options.byteOrder ?? 'big'
  if (order !== 'big' && order !== 'little') {
    throw new InvalidArgumentError(`${CODEC}: byteOrder must be 'big' or 'little', got ${describe(order)}`)
  }
  const maxBody = integerOption(
    CODEC,
    'maxFrameLength',
    options.maxFrameLength ?? 8 << 20,
    0,
    MAX_BUFFER_LENGTH,
  )
  const adjustment = integerOption(
    CODEC,
    'lengthAdjustment',
    options.lengthAdjustment ?? 0,
    -MAX_BUFFER_LENGTH,
    MAX_BUFFER_LENGTH,
  )
  const headerLength = offset + width
  const strip = integerOption(
    CODEC,
    'initialBytesToStrip',
    options.initialBytesToStrip ?? headerLength,
    0,
    headerLength + maxBody,
  )
  const maxFieldValue = width === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * width) - 1
  return {
    offset,
    width,
    adjustment,
    strip,
    headerLength,
    maxBody,
    maxFieldValue,
    ...fieldAccess(width, order),
  }
}

// One specialised reader per width and order: byte arithmetic beats readUIntBE() in the decode loop.
function fieldAccess(width: LengthFieldWidth, order: ByteOrder): { read: FieldReader; write: FieldWriter } {
  const big = order === 'big'
  switch (width) {
    case 1:
      return { read: (b, p) => b[p]!, write: (b, p, v) => void (b[p] = v) }
    case 2:
      return big
        ? { read: (b, p) => (b[p]! << 8) | b[p + 1]!, write: (b, p, v) => void b.writeUInt16BE(v, p) }
        : { read: (b, p) => b[p]! | (b[p + 1]! << 8), write: (b, p, v) => void b.writeUInt16LE(v, p) }
    case 3:
      return big
        ? {
            read: (b, p) => (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!,
            write: (b, p, v) => void b.writeUIntBE(v, p, 3),
          }
        : {
            read: (b, p) => b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16),
            write: (b, p, v) => void b.writeUIntLE(v, p, 3),
          }
    case 4:
      return big
        ? {
            read: (b, p) => b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!),
            write: (b, p, v) => void b.writeUInt32BE(v, p),
          }
        : {
            read: (b, p) => b[p + 3]! * 0x1000000 + ((b[p + 2]! << 16) | (b[p + 1]! << 8) | b[p]!),
            write: (b, p, v) => void b.writeUInt32LE(v, p),
          }
    case 8:
      return big
        ? { read: (b, p) => join64(b.readUInt32BE(p), b.readUInt32BE(p + 4)), write: write64BE }
        : { read: (b, p) => join64(b.readUInt32LE(p + 4), b.readUInt32LE(p)), write: write64LE }
  }
}

// Values past 2^53 cannot be exact; any of them is far beyond every allowed maxFrameLength.
function join64(high: number, low: number): number {
  return high >= 0x200000 ? Number.POSITIVE_INFINITY : high * TWO_32 + low
}

function write64BE(b: Buffer, p: number, v: number): void {
  b.writeUInt32BE(Math.floor(v / TWO_32), p)
  b.writeUInt32BE(v % TWO_32, p + 4)
}

function write64LE(b: Buffer, p: number, v: number): void {
  b.writeUInt32LE(v % TWO_32, p)
  b.writeUInt32LE(Math.floor(v / TWO_32), p + 4)
}

class LengthFieldCodec implements FrameCodec {
  readonly #layout: Layout

  constructor(layout: Layout) {
    this.#layout = layout
  }

  decoder(): FrameDecoder {
    return new LengthFieldDecoder(this.#layout)
  }

  encodedLength(payloadLength: number): number {
    return this.#layout.headerLength + payloadLength
  }

  encodeInto(payload: Uint8Array, target: Buffer, offset: number): number {
    const layout = this.#layout
    const length = payload.length
    const value = length - layout.adjustment
    if (length > layout.maxBody || value > layout.maxFieldValue) {
      throw new ProtocolError(
        ErrorCodes.FRAME_TOO_LARGE,
        `${CODEC}: payload of ${length} bytes exceeds maxFrameLength ${layout.maxBody} or the ${layout.width}-byte length field`,
      )
    }
    if (value < 0) {
      throw new InvalidArgumentError(
        `${CODEC}: payload of ${length} bytes is shorter than lengthAdjustment ${layout.adjustment}`,
      )
    }
    const end = offset + layout.headerLength + length
    checkRoom(CODEC, target, offset, end - offset)
    if (layout.offset > 0) target.fill(0, offset, offset + layout.offset)
    layout.write(target, offset + layout.offset, value)
    target.set(payload, offset + layout.headerLength)
    return end
  }

  encode(payload: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(this.encodedLength(payload.length))
    this.encodeInto(payload, out, 0)
    return out
  }
}

/**
 * Decoding state for one stream. Three situations, in this order within `push`:
 * a header split across chunks (`#header`), a frame body split across chunks (`#frame`),
 * and the fast loop over whole frames inside the current chunk (slices, no copy).
 */
class LengthFieldDecoder implements FrameDecoder {
  readonly #layout: Layout
  /** Header bytes of a frame whose length field has not fully arrived yet. */
  #header: Buffer | null = null
  #headerFilled = 0
  /**
   * The frame being assembled across chunks. Its buffer grows with the bytes that arrived (doubling, up to
   * the frame's size), not with the size the peer announced: a header alone reserves at most
   * INITIAL_CAPACITY, so memory follows bytes received.
   */
  #frame: Buffer | null = null
  #frameFilled = 0
  #frameLength = 0
  /** Wire bytes of the assembled frame still to come; the first `#skip` of them are stripped, not stored. */
  #remaining = 0
  #skip = 0
  #error: ProtocolError | null = null
  /** The largest body accepted from now on (see `maxFrameLength`). */
  #maxBody: number

  constructor(layout: Layout) {
    this.#layout = layout
    this.#maxBody = layout.maxBody
  }

  /**
   * The largest body this decoder accepts from the next length field on, at most the codec's
   * maxFrameLength (a server lowers it until a client has logged in).
   */
  get maxFrameLength(): number {
    return this.#maxBody
  }

  set maxFrameLength(value: number) {
    this.#maxBody = Math.min(Math.max(0, value), this.#layout.maxBody)
  }

  get buffered(): number {
    return this.#remaining > 0 ? this.#frameLength - this.#remaining : this.#headerFilled
  }

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    if (this.#error !== null) throw this.#error
    const end = chunk.length
    let pos = 0
    if (this.#headerFilled > 0) {
      pos = this.#fillHeader(chunk)
      if (this.#headerFilled < this.#layout.headerLength) return
      this.#headerFilled = 0
      const header = this.#header!
      this.#begin(header, 0, header.length, this.#checkedLength(header, 0))
      if (this.#remaining === 0) this.#emitAssembled(onFrame)
    }
    if (this.#remaining > 0) {
      pos = this.#fillFrame(chunk, pos, onFrame)
      if (this.#remaining > 0) return
    }
    // The fast loop: whole frames inside this chunk are handed out as slices.
    const headerLength = this.#layout.headerLength
    const strip = this.#layout.strip
    while (end - pos >= headerLength) {
      const frameLength = this.#checkedLength(chunk, pos)
      if (end - pos < frameLength) {
        this.#begin(chunk, pos, end, frameLength)
        return
      }
      const start = pos
      pos += frameLength
      onFrame(chunk.subarray(start + strip, pos))
    }
    if (pos < end) {
      this.#header ??= Buffer.allocUnsafe(headerLength)
      this.#headerFilled = chunk.copy(this.#header, 0, pos, end)
    }
  }

  end(): void {
    if (this.#error !== null) throw this.#error
    const pending = this.buffered
    if (pending > 0) {
      throw this.#fail(
        ErrorCodes.FRAME_TRUNCATED,
        `${CODEC}: stream ended inside a frame, ${pending} bytes pending`,
      )
    }
  }

  /** Reads the length field of the frame starting at `at` and validates it before anything is allocated. */
  #checkedLength(buf: Buffer, at: number): number {
    const layout = this.#layout
    const value = layout.read(buf, at + layout.offset)
    const body = value + layout.adjustment
    if (body < 0) {
      throw this.#fail(
        ErrorCodes.FRAME_CORRUPT,
        `${CODEC}: length field ${value} with lengthAdjustment ${layout.adjustment} gives a negative frame length`,
      )
    }
    if (body > this.#maxBody) {
      throw this.#fail(
        ErrorCodes.FRAME_TOO_LARGE,
        `${CODEC}: frame of ${body} bytes after the length field exceeds maxFrameLength ${this.#maxBody}`,
      )
    }
    const frameLength = layout.headerLength + body
    if (layout.strip > frameLength) {
      throw this.#fail(
        ErrorCodes.FRAME_CORRUPT,
        `${CODEC}: frame length ${frameLength} is shorter than initialBytesToStrip ${layout.strip}`,
      )
    }
    return frameLength
  }

  /** Starts assembling a frame of `frameLength` wire bytes whose first bytes are `src[from..end)`. */
  #begin(src: Buffer, from: number, end: number, frameLength: number): void {
    const strip = this.#layout.strip
    const present = end - from
    const size = frameLength - strip
    const frame = Buffer.allocUnsafe(Math.min(size, Math.max(INITIAL_CAPACITY, 2 * (present - strip))))
    if (present > strip) {
      this.#frameFilled = src.copy(frame, 0, from + strip, end)
      this.#skip = 0
    } else {
      this.#frameFilled = 0
      this.#skip = strip - present
    }
    this.#frame = frame
    this.#frameLength = frameLength
    this.#remaining = frameLength - present
  }

  #fillHeader(chunk: Buffer): number {
    const wanted = Math.min(this.#layout.headerLength - this.#headerFilled, chunk.length)
    chunk.copy(this.#header!, this.#headerFilled, 0, wanted)
    this.#headerFilled += wanted
    return wanted
  }

  #fillFrame(chunk: Buffer, pos: number, onFrame: (frame: Buffer) => void): number {
    const to = pos + Math.min(this.#remaining, chunk.length - pos)
    let from = pos
    if (this.#skip > 0) {
      const skipped = Math.min(this.#skip, to - from)
      this.#skip -= skipped
      from += skipped
    }
    if (from < to) {
      const needed = this.#frameFilled + (to - from)
      if (needed > this.#frame!.length) this.#grow(needed)
      this.#frameFilled += chunk.copy(this.#frame!, this.#frameFilled, from, to)
    }
    this.#remaining -= to - pos
    if (this.#remaining === 0) this.#emitAssembled(onFrame)
    return to
  }

  /** Doubles the partial frame's buffer (at least to `needed`, at most to the frame's size). */
  #grow(needed: number): void {
    const old = this.#frame!
    const size = this.#frameLength - this.#layout.strip
    const grown = Buffer.allocUnsafe(Math.min(size, Math.max(needed, 2 * old.length)))
    old.copy(grown, 0, 0, this.#frameFilled)
    this.#frame = grown
  }

  // State is cleared before the callback runs, so a frame handler may throw without corrupting the decoder's state.
  #emitAssembled(onFrame: (frame: Buffer) => void): void {
    const frame = this.#frame!
    this.#frame = null
    this.#frameFilled = 0
    this.#remaining = 0
    onFrame(frame)
  }

  #fail(code: ErrorCode, message: string): ProtocolError {
    this.#error = new ProtocolError(code, message, { bytesDone: this.buffered })
    return this.#error
  }
}
