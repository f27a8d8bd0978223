// Delimiter framing: frames end with a delimiter (a line feed, "\r\n", a NUL byte…), as Netty's
// DelimiterBasedFrameDecoder. Every byte is searched once: pending bytes keep a scan position, so a long
// frame trickling in one byte per chunk costs O(n), not O(n²). Frames inside one chunk are slices.

import { type ErrorCode, ErrorCodes, InvalidArgumentError, ProtocolError } from '../errors.ts'
import type { FrameCodec, FrameDecoder } from './codec.ts'
import { checkRoom, describe, integerOption, MAX_BUFFER_LENGTH } from './validate.ts'

export type DelimitedOptions = {
  /** Bytes that end each frame; a string is encoded as UTF-8. 1 to 256 bytes. */
  delimiter: string | Uint8Array
  /** Largest frame accepted, delimiter excluded; refused as soon as that many bytes arrive without one. @default 65536 */
  maxFrameLength?: number
  /** Hand frames out without their delimiter. @default true */
  stripDelimiter?: boolean
}

type Layout = {
  readonly delimiter: Buffer
  /** What `indexOf` searches for: a byte value for one-byte delimiters (memchr), else the delimiter. */
  readonly needle: number | Buffer
  readonly max: number
  readonly strip: boolean
}

const CODEC = 'delimited'
const MAX_DELIMITER = 256

/**
 * A delimiter codec.
 * @example
 * const lines = delimited({ delimiter: '\n', maxFrameLength: 8192 })
 */
export function delimited(options: DelimitedOptions): FrameCodec {
  const raw = options?.delimiter
  let delimiter: Buffer
  if (typeof raw === 'string') delimiter = Buffer.from(raw, 'utf8')
  else if (raw instanceof Uint8Array) delimiter = Buffer.from(raw)
  else
    throw new InvalidArgumentError(
      `${CODEC}: delimiter must be a string or a Uint8Array, got ${describe(raw)}`,
    )
  if (delimiter.length === 0 || delimiter.length > MAX_DELIMITER) {
    throw new InvalidArgumentError(
      `${CODEC}: delimiter must be 1 to ${MAX_DELIMITER} bytes, got ${delimiter.length}`,
    )
  }
  const max = integerOption(CODEC, 'maxFrameLength', options.maxFrameLength ?? 65_536, 0, MAX_BUFFER_LENGTH)
  const strip = options.stripDelimiter ?? true
  if (typeof strip !== 'boolean') {
    throw new InvalidArgumentError(`${CODEC}: stripDelimiter must be a boolean, got ${describe(strip)}`)
  }
  const needle = delimiter.length === 1 ? delimiter[0]! : delimiter
  return new DelimitedCodec({ delimiter, needle, max, strip })
}

class DelimitedCodec implements FrameCodec {
  readonly #layout: Layout

  constructor(layout: Layout) {
    this.#layout = layout
  }

  decoder(): FrameDecoder {
    return new DelimitedDecoder(this.#layout)
  }

  encodedLength(payloadLength: number): number {
    return payloadLength + this.#layout.delimiter.length
  }

  /** Refuses a payload that contains the delimiter (or ends with its start): it would decode as other frames. */
  encodeInto(payload: Uint8Array, target: Buffer, offset: number): number {
    const { delimiter, needle, max } = this.#layout
    const length = payload.length
    if (length > max) {
      throw new ProtocolError(
        ErrorCodes.FRAME_TOO_LARGE,
        `${CODEC}: payload of ${length} bytes exceeds maxFrameLength ${max}`,
      )
    }
    const end = offset + length + delimiter.length
    checkRoom(CODEC, target, offset, end - offset)
    target.set(payload, offset)
    delimiter.copy(target, offset + length)
    // One native scan over what was written: the first delimiter must be the one we appended.
    if (target.indexOf(needle, offset) !== offset + length) {
      throw new InvalidArgumentError(`${CODEC}: payload contains the delimiter`)
    }
    return end
  }

  encode(payload: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(this.encodedLength(payload.length))
    this.encodeInto(payload, out, 0)
    return out
  }
}

/**
 * Decoding state for one stream. Bytes after the last delimiter of a chunk are copied into `#pending`
 * (the caller may reuse its chunk buffers); `#scanFrom` marks how far they are known to hold no delimiter start.
 */
class DelimitedDecoder implements FrameDecoder {
  readonly #layout: Layout
  #pending: Buffer | null = null
  #pendingLength = 0
  #scanFrom = 0
  #error: ProtocolError | null = null

  constructor(layout: Layout) {
    this.#layout = layout
  }

  get buffered(): number {
    return this.#pendingLength
  }

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    if (this.#error !== null) throw this.#error
    const end = chunk.length
    let pos = 0
    if (this.#pendingLength > 0) {
      pos = this.#continuePending(chunk, onFrame)
      if (pos < 0) return
    }
    const { needle, max, strip } = this.#layout
    const delimiterLength = this.#layout.delimiter.length
    while (pos < end) {
      const at = chunk.indexOf(needle, pos)
      if (at < 0) break
      if (at - pos > max) throw this.#tooLarge(at - pos)
      const start = pos
      pos = at + delimiterLength
      onFrame(chunk.subarray(start, strip ? at : pos))
    }
    if (pos < end) {
      // indexOf checked every start up to end - delimiterLength: only the last delimiterLength - 1 bytes are open.
      const scanFrom = Math.max(0, end - pos - (delimiterLength - 1))
      if (scanFrom > max) throw this.#tooLarge(scanFrom)
      this.#append(chunk, pos, end)
      this.#scanFrom = scanFrom
    }
  }

  end(): void {
    if (this.#error !== null) throw this.#error
    if (this.#pendingLength > 0) {
      throw this.#fail(
        ErrorCodes.FRAME_TRUNCATED,
        `${CODEC}: stream ended with ${this.#pendingLength} bytes and no delimiter`,
      )
    }
  }

  /**
   * Finishes the pending frame with bytes of `chunk`. Returns where the rest of the chunk starts,
   * or -1 when the whole chunk was absorbed into the pending frame.
   */
  #continuePending(chunk: Buffer, onFrame: (frame: Buffer) => void): number {
    const { delimiter, needle, max } = this.#layout
    const pending = this.#pending!
    const pendingLength = this.#pendingLength
    // A delimiter that starts in the pending bytes and ends in this chunk (at most delimiter.length - 1 starts).
    for (let start = this.#scanFrom; start < pendingLength; start++) {
      const match = matchAcross(delimiter, pending, start, pendingLength, chunk)
      if (match === MATCH) {
        if (start > max) throw this.#tooLarge(start)
        this.#emitPending(start, null, 0, onFrame)
        return start + delimiter.length - pendingLength
      }
      if (match === UNDECIDED) {
        // The chunk ended inside a possible delimiter: keep it and decide on the next push.
        if (start > max) throw this.#tooLarge(start)
        this.#append(chunk, 0, chunk.length)
        this.#scanFrom = start
        return -1
      }
    }
    const at = chunk.indexOf(needle)
    if (at >= 0) {
      if (pendingLength + at > max) throw this.#tooLarge(pendingLength + at)
      this.#emitPending(pendingLength, chunk, at, onFrame)
      return at + delimiter.length
    }
    const scanFrom = Math.max(pendingLength, pendingLength + chunk.length - (delimiter.length - 1))
    if (scanFrom > max) throw this.#tooLarge(scanFrom)
    this.#append(chunk, 0, chunk.length)
    this.#scanFrom = scanFrom
    return -1
  }

  /** Emits a frame made of `#pending[0..pendingPart)` then `chunk[0..chunkPart)`, copied once at its exact size. */
  #emitPending(
    pendingPart: number,
    chunk: Buffer | null,
    chunkPart: number,
    onFrame: (frame: Buffer) => void,
  ): void {
    const { delimiter, strip } = this.#layout
    const contentLength = pendingPart + chunkPart
    const frame = Buffer.allocUnsafe(strip ? contentLength : contentLength + delimiter.length)
    this.#pending!.copy(frame, 0, 0, pendingPart)
    if (chunk !== null) chunk.copy(frame, pendingPart, 0, chunkPart)
    if (!strip) delimiter.copy(frame, contentLength)
    this.#pendingLength = 0
    this.#scanFrom = 0
    onFrame(frame)
  }

  #append(chunk: Buffer, from: number, to: number): void {
    const needed = this.#pendingLength + (to - from)
    const current = this.#pending
    if (current === null || current.length < needed) {
      // Grow by doubling, never past the most a legal frame can hold pending.
      const cap = this.#layout.max + this.#layout.delimiter.length
      const grown = Buffer.allocUnsafe(Math.min(cap, Math.max(needed, 2 * (current?.length ?? 0), 256)))
      if (current !== null) current.copy(grown, 0, 0, this.#pendingLength)
      this.#pending = grown
    }
    this.#pendingLength += chunk.copy(this.#pending!, this.#pendingLength, from, to)
  }

  #tooLarge(length: number): ProtocolError {
    return this.#fail(
      ErrorCodes.FRAME_TOO_LARGE,
      `${CODEC}: ${length} bytes without a delimiter exceed maxFrameLength ${this.#layout.max}`,
    )
  }

  #fail(code: ErrorCode, message: string): ProtocolError {
    this.#error = new ProtocolError(code, message, { bytesDone: this.#pendingLength })
    return this.#error
  }
}

const MISMATCH = 0
const MATCH = 1
const UNDECIDED = 2

/** Does the delimiter start at `pending[start]`, continuing into `chunk`? UNDECIDED when the chunk is too short to tell. */
function matchAcross(
  delimiter: Buffer,
  pending: Buffer,
  start: number,
  pendingLength: number,
  chunk: Buffer,
): number {
  let i = 0
  for (; start + i < pendingLength && i < delimiter.length; i++) {
    if (pending[start + i] !== delimiter[i]) return MISMATCH
  }
  for (let j = 0; i < delimiter.length; i++, j++) {
    if (j >= chunk.length) return UNDECIDED
    if (chunk[j] !== delimiter[i]) return MISMATCH
  }
  return MATCH
}
