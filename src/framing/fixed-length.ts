// Fixed-length framing: every frame is exactly `n` bytes, as Netty's FixedLengthFrameDecoder.
// Frames inside one chunk are slices; a frame spanning chunks is assembled in a buffer of exactly n bytes.

import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../errors.ts'
import type { FrameCodec, FrameDecoder } from './codec.ts'
import { checkRoom, integerOption, MAX_BUFFER_LENGTH } from './validate.ts'

const CODEC = 'fixedLength'

/**
 * A codec whose frames all have `frameLength` bytes (at least 1); the encoder refuses payloads of another size.
 * @example
 * const records = fixedLength(16)
 */
export function fixedLength(frameLength: number): FrameCodec {
  return new FixedLengthCodec(integerOption(CODEC, 'frameLength', frameLength, 1, MAX_BUFFER_LENGTH))
}

class FixedLengthCodec implements FrameCodec {
  readonly #length: number

  constructor(length: number) {
    this.#length = length
  }

  decoder(): FrameDecoder {
    return new FixedLengthDecoder(this.#length)
  }

  encodedLength(payloadLength: number): number {
    return payloadLength
  }

  encodeInto(payload: Uint8Array, target: Buffer, offset: number): number {
    if (payload.length !== this.#length) {
      throw new InvalidArgumentError(`${CODEC}: payload must be ${this.#length} bytes, got ${payload.length}`)
    }
    checkRoom(CODEC, target, offset, payload.length)
    target.set(payload, offset)
    return offset + payload.length
  }

  encode(payload: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(payload.length)
    this.encodeInto(payload, out, 0)
    return out
  }
}

class FixedLengthDecoder implements FrameDecoder {
  readonly #length: number
  /** The frame being assembled across chunks, and how much of it has arrived. */
  #frame: Buffer | null = null
  #filled = 0
  #error: ProtocolError | null = null

  constructor(length: number) {
    this.#length = length
  }

  get buffered(): number {
    return this.#filled
  }

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    if (this.#error !== null) throw this.#error
    const length = this.#length
    const end = chunk.length
    let pos = 0
    if (this.#frame !== null) {
      const frame = this.#frame
      pos = Math.min(length - this.#filled, end)
      this.#filled += chunk.copy(frame, this.#filled, 0, pos)
      if (this.#filled < length) return
      this.#frame = null
      this.#filled = 0
      onFrame(frame)
    }
    while (end - pos >= length) {
      const start = pos
      pos += length
      onFrame(chunk.subarray(start, pos))
    }
    if (pos < end) {
      this.#frame = Buffer.allocUnsafe(length)
      this.#filled = chunk.copy(this.#frame, 0, pos, end)
    }
  }

  end(): void {
    if (this.#error !== null) throw this.#error
    if (this.#filled > 0) {
      this.#error = new ProtocolError(
        ErrorCodes.FRAME_TRUNCATED,
        `${CODEC}: stream ended inside a frame (${this.#filled} of ${this.#length} bytes)`,
        { bytesDone: this.#filled },
      )
      throw this.#error
    }
  }
}
