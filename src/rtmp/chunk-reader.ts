// The chunk stream's receive side, sans-I/O: bytes in any split go in, whole messages come out.
//
//   header ──(basic header 1-3 B, message header 11/7/3/0 B, extended timestamp 0/4 B)──▶ payload
//     ▲                                                                                  │
//     └────────────── chunk done (chunkSize bytes, or the message's end) ◀───────────────┘
//
// Payload bytes are taken as slices of what arrived (copied once, when a message spanning several
// reads is put together), so a large chunk size costs nothing. Set Chunk Size and Abort act here,
// since the bytes after them depend on them. Nothing is sized by a number the peer sent: a message
// longer than maxMessageSize is refused as soon as its header is read, and partial messages are
// held as the bytes that actually arrived, within maxBufferedBytes across all chunk streams.
import { ErrorCodes, ProtocolError } from '../errors.ts'
import { MessageType, type RtmpMessage } from './message.ts'

export type ChunkReaderOptions = {
  /** Longest message accepted (RTMP's own limit is 16 MiB - 1). @default 8_388_608 */
  maxMessageSize?: number
  /** Chunk streams the peer may use at once (each keeps a header). @default 64 */
  maxChunkStreams?: number
  /** Bytes of unfinished messages held across all chunk streams. @default 2 × maxMessageSize */
  maxBufferedBytes?: number
}

/** What one chunk stream remembers between chunks: the last header, and the message being filled. */
type ChunkStreamState = {
  timestamp: number
  /** The last timestamp delta, reused by a type-3 chunk that starts a new message. */
  delta: number
  length: number
  type: number
  streamId: number
  /** The last header carried an extended timestamp: so do its type-3 chunks. */
  extended: boolean
  parts: Buffer[]
  received: number
}

const HEADER_BYTES = [11, 7, 3, 0] as const

function chunkError(message: string): ProtocolError {
  return new ProtocolError(ErrorCodes.RTMP_CHUNK, message)
}

export class ChunkReader {
  /** The peer's chunk size (Set Chunk Size). */
  chunkSize = 128
  /** Every byte pushed so far (the Acknowledgement sequence number). */
  bytesReceived = 0
  readonly #maxMessageSize: number
  readonly #maxChunkStreams: number
  readonly #maxBufferedBytes: number
  readonly #streams = new Map<number, ChunkStreamState>()
  /** The start of a chunk header that was split across pushes (under 18 bytes: the longest header). */
  #hold: Buffer | undefined
  /** While in a chunk's payload: its chunk stream, and the payload bytes still to come. */
  #current: ChunkStreamState | undefined
  #chunkLeft = 0
  #buffered = 0
  #failed: ProtocolError | undefined

  constructor(options: ChunkReaderOptions = {}) {
    this.#maxMessageSize = options.maxMessageSize ?? 8 << 20
    this.#maxChunkStreams = options.maxChunkStreams ?? 64
    this.#maxBufferedBytes = options.maxBufferedBytes ?? 2 * this.#maxMessageSize
  }

  /** Bytes held in unfinished messages. */
  get bufferedBytes(): number {
    return this.#buffered + (this.#hold?.length ?? 0)
  }

  /**
   * Feeds bytes; returns the messages they complete, in order. Throws ProtocolError (WK_RTMP_CHUNK,
   * WK_RTMP_MESSAGE_TOO_LARGE) on a broken stream, carrying in `messages` those completed before the
   * break; after that every push throws the same error (with no messages).
   */
  push(bytes: Buffer): RtmpMessage[] {
    if (this.#failed) throw new ProtocolError(this.#failed.code, this.#failed.message)
    this.bytesReceived += bytes.length
    const out: RtmpMessage[] = []
    try {
      this.#consume(bytes, out)
    } catch (error) {
      const failure = error as ProtocolError & { messages?: RtmpMessage[] }
      // The messages this push completed before the break: whole or split, the same ones come out.
      failure.messages = out
      this.#failed = failure
      throw failure
    }
    return out
  }

  #consume(input: Buffer, out: RtmpMessage[]): void {
    let bytes = input
    let offset = 0
    if (this.#hold !== undefined) {
      bytes = Buffer.concat([this.#hold, input])
      this.#hold = undefined
    }
    while (offset < bytes.length) {
      if (this.#current === undefined) {
        const used = this.#header(bytes, offset, out)
        if (used === 0) {
          this.#hold = Buffer.from(bytes.subarray(offset)) // a partial header: under 18 bytes
          return
        }
        offset += used
        continue
      }
      const state = this.#current
      const n = Math.min(this.#chunkLeft, bytes.length - offset)
      state.parts.push(bytes.subarray(offset, offset + n))
      state.received += n
      this.#buffered += n
      this.#chunkLeft -= n
      offset += n
      if (state.received === state.length) this.#complete(state, out)
      else if (this.#buffered > this.#maxBufferedBytes)
        throw new ProtocolError(
          ErrorCodes.RTMP_MESSAGE_TOO_LARGE,
          `unfinished messages hold over ${this.#maxBufferedBytes} bytes`,
        )
      if (this.#chunkLeft === 0) this.#current = undefined
    }
  }

  /** Reads one chunk header at `offset`: the bytes it took, or 0 when it is not all here yet. */
  #header(b: Buffer, offset: number, out: RtmpMessage[]): number {
    const available = b.length - offset
    let p = offset + 1
    const fmt = b[offset]! >> 6
    let csid = b[offset]! & 0x3f
    if (csid === 0) {
      if (available < 2) return 0
      csid = 64 + b[p]!
      p += 1
    } else if (csid === 1) {
      if (available < 3) return 0
      csid = 64 + b[p]! + b[p + 1]! * 256
      p += 2
    }
    const headerBytes = HEADER_BYTES[fmt as 0 | 1 | 2 | 3]
    if (b.length < p + headerBytes) return 0
    let state = this.#streams.get(csid)
    if (state === undefined) {
      if (fmt >= 2) throw chunkError(`type ${fmt} chunk on chunk stream ${csid} before any header`)
      if (this.#streams.size >= this.#maxChunkStreams)
        throw chunkError(`more than ${this.#maxChunkStreams} chunk streams`)
      state = {
        timestamp: 0,
        delta: 0,
        length: 0,
        type: 0,
        streamId: 0,
        extended: false,
        parts: [],
        received: 0,
      }
    }
    if (fmt === 3) {
      if (state.extended) {
        if (b.length < p + 4) return 0
        p += 4 // repeats the header's extended timestamp
      }
      if (state.received === 0) state.timestamp = (state.timestamp + state.delta) >>> 0
    } else {
      let ts = b.readUIntBE(p, 3)
      const extended = ts === 0xffffff
      if (extended) {
        if (b.length < p + headerBytes + 4) return 0
        ts = b.readUInt32BE(p + headerBytes)
      }
      if (fmt <= 1) {
        const length = b.readUIntBE(p + 3, 3)
        if (length > this.#maxMessageSize)
          throw new ProtocolError(
            ErrorCodes.RTMP_MESSAGE_TOO_LARGE,
            `message of ${length} bytes on chunk stream ${csid} (limit ${this.#maxMessageSize})`,
          )
        state.length = length
        state.type = b[p + 6]!
        if (fmt === 0) state.streamId = b.readUInt32LE(p + 7)
      }
      // A new header mid-message abandons the unfinished one (as an Abort would).
      this.#drop(state)
      state.extended = extended
      state.delta = ts
      state.timestamp = fmt === 0 ? ts : (state.timestamp + ts) >>> 0
      p += headerBytes + (extended ? 4 : 0)
    }
    this.#streams.set(csid, state)
    if (state.length === 0) {
      this.#complete(state, out)
      return p - offset
    }
    this.#current = state
    this.#chunkLeft = Math.min(this.chunkSize, state.length - state.received)
    return p - offset
  }

  #drop(state: ChunkStreamState): void {
    this.#buffered -= state.received
    state.parts = []
    state.received = 0
  }

  #complete(state: ChunkStreamState, out: RtmpMessage[]): void {
    const payload = state.parts.length === 1 ? state.parts[0]! : Buffer.concat(state.parts, state.received)
    this.#drop(state)
    const message: RtmpMessage = {
      type: state.type,
      streamId: state.streamId,
      timestamp: state.timestamp,
      payload,
    }
    if (message.type === MessageType.SET_CHUNK_SIZE) {
      if (payload.length < 4) throw chunkError('Set Chunk Size shorter than 4 bytes')
      const size = payload.readUInt32BE(0)
      // The top bit must be zero; zero itself would never end a chunk.
      if (size === 0 || size > 0x7fffffff) throw chunkError(`Set Chunk Size of ${size} (1..2^31-1)`)
      this.chunkSize = size
    } else if (message.type === MessageType.ABORT) {
      if (payload.length < 4) throw chunkError('Abort shorter than 4 bytes')
      const aborted = this.#streams.get(payload.readUInt32BE(0))
      if (aborted !== undefined) this.#drop(aborted)
    }
    out.push(message)
  }
}
