// One side of an RTMP connection after the handshake, sans-I/O: `receive(bytes)` gives the messages
// for the application, `take()` gives the bytes to write. It answers the protocol by itself:
// Acknowledgements once the peer's window is reached, a Window Ack Size when the peer sets our
// bandwidth, ping responses; it applies the peer's chunk size and remembers what the peer acknowledged.
// Time never enters: timestamps are whatever the owner passes.
import { ChunkReader, type ChunkReaderOptions } from './chunk-reader.ts'
import { encodeChunks } from './chunk-writer.ts'
import {
  acknowledgement,
  ChunkStreamId,
  MessageType,
  type RtmpMessage,
  setChunkSize,
  UserControl,
  userControl,
  windowAckSize,
} from './message.ts'

export type ChunkStreamOptions = ChunkReaderOptions

/** The chunk stream a message goes out on, by its type. */
export function chunkStreamFor(type: number): number {
  switch (type) {
    case MessageType.AUDIO:
      return ChunkStreamId.AUDIO
    case MessageType.VIDEO:
      return ChunkStreamId.VIDEO
    case MessageType.DATA_AMF0:
      return ChunkStreamId.DATA
    case MessageType.COMMAND_AMF0:
      return ChunkStreamId.COMMAND
    default:
      return ChunkStreamId.CONTROL
  }
}

export class ChunkStream {
  readonly reader: ChunkReader
  /** Our chunk size (what we announced with Set Chunk Size). */
  chunkSize = 128
  /** The peer's window: we acknowledge every time this many more bytes have arrived. 0 until set. */
  peerWindow = 0
  /** The window we asked the peer to acknowledge by (our Window Ack Size). */
  ownWindow = 0
  /** The last sequence number the peer acknowledged: bytes it has received from us. */
  acknowledgedByPeer = 0
  /** Bytes of chunks produced (what the peer's acknowledgements count against). */
  bytesSent = 0
  #lastAck = 0
  #out: Buffer[] = []

  constructor(options: ChunkStreamOptions = {}) {
    this.reader = new ChunkReader(options)
  }

  /** Feeds received bytes; returns the messages other than protocol control. Throws ProtocolError. */
  receive(bytes: Buffer): RtmpMessage[] {
    const messages = this.reader.push(bytes)
    const received = this.reader.bytesReceived
    if (this.peerWindow > 0 && received - this.#lastAck >= this.peerWindow) {
      this.#lastAck = received
      this.send(acknowledgement(received))
    }
    let kept = 0
    for (const message of messages) {
      if (this.#control(message)) continue
      messages[kept++] = message
    }
    messages.length = kept
    return messages
  }

  /** Acts on a protocol control message; true when the application need not see it. */
  #control(message: RtmpMessage): boolean {
    const p = message.payload
    switch (message.type) {
      case MessageType.SET_CHUNK_SIZE:
      case MessageType.ABORT:
        return true // the reader applied them
      case MessageType.ACKNOWLEDGEMENT:
        if (p.length >= 4) this.acknowledgedByPeer = p.readUInt32BE(0)
        return true
      case MessageType.WINDOW_ACK_SIZE:
        if (p.length >= 4) this.peerWindow = p.readUInt32BE(0)
        return true
      case MessageType.SET_PEER_BANDWIDTH:
        // The peer limits our output: answer with our window when it differs (RTMP 1.0, 5.4.5).
        if (p.length >= 4) {
          const size = p.readUInt32BE(0)
          if (size !== this.ownWindow) this.setWindow(size)
        }
        return true
      case MessageType.USER_CONTROL:
        if (p.length >= 6 && p.readUInt16BE(0) === UserControl.PING_REQUEST) {
          this.send(userControl(UserControl.PING_RESPONSE, p.readUInt32BE(2)))
          return true
        }
        return false
      default:
        return false
    }
  }

  /** Queues a message (on the chunk stream for its type unless `csid` is given). */
  send(message: RtmpMessage, csid = chunkStreamFor(message.type)): void {
    this.write(
      encodeChunks(message.type, message.streamId, message.timestamp, message.payload, csid, this.chunkSize),
    )
  }

  /** Queues bytes already chunked with our chunk size (a media message encoded once for many players). */
  write(chunks: Buffer): void {
    this.bytesSent += chunks.length
    this.#out.push(chunks)
  }

  /** Announces and starts using a new chunk size. */
  setChunkSize(size: number): void {
    this.send(setChunkSize(size))
    this.chunkSize = size
  }

  /** Announces our Window Ack Size: the peer should acknowledge every `size` bytes. */
  setWindow(size: number): void {
    this.ownWindow = size
    this.send(windowAckSize(size))
  }

  /** The bytes queued for the socket since the last call, or undefined. */
  take(): Buffer | undefined {
    const out = this.#out
    if (out.length === 0) return undefined
    this.#out = []
    return out.length === 1 ? out[0] : Buffer.concat(out)
  }
}
