// FLV (Flash Video, spec 10.1): the file and HTTP-FLV container of RTMP's audio, video and data
// messages. A tag is the message's type, timestamp and payload; the reader is sans-I/O and
// incremental (bytes in any split, tags out) and refuses a tag longer than its cap before buffering it.
import { ErrorCodes, ProtocolError } from '../errors.ts'

/** One FLV tag: what an RTMP audio (8), video (9) or data (18) message carries. */
export type FlvTag = {
  type: 8 | 9 | 18
  /** Milliseconds (32 bits). */
  timestamp: number
  data: Buffer
}

export const FLV_HEADER_SIZE = 9
const TAG_HEADER = 11

/** The FLV file header and the first PreviousTagSize (13 bytes). */
export function flvHeader(hasAudio = true, hasVideo = true): Buffer {
  const b = Buffer.alloc(FLV_HEADER_SIZE + 4)
  b.write('FLV', 0, 'latin1')
  b[3] = 1
  b[4] = (hasAudio ? 4 : 0) | (hasVideo ? 1 : 0)
  b.writeUInt32BE(FLV_HEADER_SIZE, 5)
  return b
}

/** One tag with its trailing PreviousTagSize. */
export function encodeFlvTag(type: number, timestamp: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(TAG_HEADER + data.length + 4)
  out[0] = type
  out.writeUIntBE(data.length, 1, 3)
  out.writeUIntBE(timestamp & 0xffffff, 4, 3)
  out[7] = (timestamp >>> 24) & 0xff
  out.writeUIntBE(0, 8, 3)
  out.set(data, TAG_HEADER)
  out.writeUInt32BE(TAG_HEADER + data.length, TAG_HEADER + data.length)
  return out
}

function flvError(message: string): ProtocolError {
  return new ProtocolError(ErrorCodes.RTMP_FLV, `FLV: ${message}`)
}

export type FlvReaderOptions = {
  /** Longest tag accepted. @default 16_777_215 (what the 24-bit size can say) */
  maxTagSize?: number
}

/** Reads an FLV stream incrementally: `push(bytes)` returns the tags completed. Unknown tag types are skipped. */
export class FlvReader {
  #pending: Buffer[] = []
  #pendingBytes = 0
  #headerDone = false
  readonly #maxTagSize: number

  constructor(options: FlvReaderOptions = {}) {
    this.#maxTagSize = options.maxTagSize ?? 0xffffff
  }

  /** Bytes waiting for the rest of their tag. */
  get bufferedBytes(): number {
    return this.#pendingBytes
  }

  push(bytes: Buffer): FlvTag[] {
    this.#pending.push(bytes)
    this.#pendingBytes += bytes.length
    const tags: FlvTag[] = []
    let buf =
      this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes)
    let at = 0
    if (!this.#headerDone) {
      if (buf.length < FLV_HEADER_SIZE + 4) return this.#keep(buf, at, tags)
      if (buf.toString('latin1', 0, 3) !== 'FLV') throw flvError('not an FLV stream (no "FLV" signature)')
      const dataOffset = buf.readUInt32BE(5)
      if (dataOffset < FLV_HEADER_SIZE || dataOffset > 1024) throw flvError(`header size ${dataOffset}`)
      if (buf.length < dataOffset + 4) return this.#keep(buf, at, tags)
      at = dataOffset + 4
      this.#headerDone = true
    }
    while (buf.length - at >= TAG_HEADER) {
      const type = buf[at]! & 0x1f
      const size = buf.readUIntBE(at + 1, 3)
      if (size > this.#maxTagSize) throw flvError(`tag of ${size} bytes (limit ${this.#maxTagSize})`)
      if (buf.length - at < TAG_HEADER + size + 4) break
      const timestamp = (buf.readUIntBE(at + 4, 3) | (buf[at + 7]! << 24)) >>> 0
      if (buf[at]! & 0x20) throw flvError('encrypted (filtered) tags are not supported')
      if (type === 8 || type === 9 || type === 18)
        tags.push({
          type,
          timestamp,
          data: Buffer.from(buf.subarray(at + TAG_HEADER, at + TAG_HEADER + size)),
        })
      at += TAG_HEADER + size + 4
    }
    buf = buf.subarray(at)
    return this.#keep(buf, 0, tags)
  }

  #keep(buf: Buffer, at: number, tags: FlvTag[]): FlvTag[] {
    const rest = buf.subarray(at)
    this.#pending = rest.length > 0 ? [rest] : []
    this.#pendingBytes = rest.length
    return tags
  }
}
