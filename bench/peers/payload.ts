// The 64-byte messages every peer sends, and the hand-written length-prefixed framing the raw
// `net` peers use (4-byte big-endian length, then the payload). The raw decoder is what a careful
// person writes by hand: it reads frames in place and copies only a frame split across chunks.

/** Payload size of every benchmark message, in bytes. */
export const PAYLOAD_BYTES = 64

const JSON_OVERHEAD = '{"i":,"t":""}'.length
const pads = new Map<number, string>()

/** A JSON-able message whose `JSON.stringify` is exactly 64 bytes; `i` is its index. */
export function jsonMessage(i: number): { i: number; t: string } {
  const digits = String(i).length
  let pad = pads.get(digits)
  if (pad === undefined) {
    pad = 'x'.repeat(Math.max(0, PAYLOAD_BYTES - JSON_OVERHEAD - digits))
    pads.set(digits, pad)
  }
  return { i, t: pad }
}

/** A 64-byte binary payload carrying `i` in its first four bytes (little-endian). */
export function binaryMessage(i: number): Buffer {
  const buf = Buffer.alloc(PAYLOAD_BYTES, 0x78)
  buf.writeUInt32LE(i >>> 0, 0)
  return buf
}

/** Length prefix size of the raw framing. */
export const HEADER_BYTES = 4

/** Writes one raw frame (header + 64-byte payload carrying `i`) into `target` at `offset`. */
export function writeRawFrame(target: Buffer, offset: number, i: number): number {
  target.writeUInt32BE(PAYLOAD_BYTES, offset)
  target.fill(0x78, offset + HEADER_BYTES, offset + HEADER_BYTES + PAYLOAD_BYTES)
  target.writeUInt32LE(i >>> 0, offset + HEADER_BYTES)
  return offset + HEADER_BYTES + PAYLOAD_BYTES
}

/** One raw frame in its own buffer. */
export function rawFrame(i: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + PAYLOAD_BYTES)
  writeRawFrame(buf, 0, i)
  return buf
}

/** Largest frame the raw decoder accepts: the peers never send more, so a bigger length is corrupt. */
const RAW_MAX_FRAME = 1 << 20

/**
 * Incremental decoder for the raw framing. `onFrame(buf, start, end)` receives the payload in place;
 * the buffer is only valid during the call.
 */
export class RawFrameDecoder {
  #pending: Buffer | null = null
  readonly #onFrame: (buf: Buffer, start: number, end: number) => void

  constructor(onFrame: (buf: Buffer, start: number, end: number) => void) {
    this.#onFrame = onFrame
  }

  push(chunk: Buffer): void {
    let offset = 0
    if (this.#pending !== null) {
      offset = this.#completePending(chunk)
      if (this.#pending !== null) return
    }
    while (chunk.length - offset >= HEADER_BYTES) {
      const length = this.#checkedLength(chunk.readUInt32BE(offset))
      const end = offset + HEADER_BYTES + length
      if (end > chunk.length) break
      this.#onFrame(chunk, offset + HEADER_BYTES, end)
      offset = end
    }
    if (offset < chunk.length) this.#pending = chunk.subarray(offset)
  }

  // A frame split across chunks: copy just enough of `chunk` to finish it; returns bytes consumed.
  #completePending(chunk: Buffer): number {
    let pending = this.#pending!
    let offset = 0
    if (pending.length < HEADER_BYTES) {
      offset = Math.min(HEADER_BYTES - pending.length, chunk.length)
      pending = Buffer.concat([pending, chunk.subarray(0, offset)])
      if (pending.length < HEADER_BYTES) {
        this.#pending = pending
        return offset
      }
    }
    const total = HEADER_BYTES + this.#checkedLength(pending.readUInt32BE(0))
    const take = Math.min(total - pending.length, chunk.length - offset)
    pending = Buffer.concat([pending, chunk.subarray(offset, offset + take)])
    offset += take
    if (pending.length < total) {
      this.#pending = pending
      return offset
    }
    this.#pending = null
    this.#onFrame(pending, HEADER_BYTES, total)
    return offset
  }

  #checkedLength(length: number): number {
    if (length > RAW_MAX_FRAME) throw new Error(`raw frame length ${length} is corrupt`)
    return length
  }
}
