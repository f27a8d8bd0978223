// RTMP messages: the type ids, the message shape the chunk stream carries, and the protocol control
// and user control messages (Set Chunk Size, Abort, Acknowledgement, Window Ack Size, Set Peer
// Bandwidth, Stream Begin/EOF, Set Buffer Length, Ping), encoded and decoded as payloads.

/** One RTMP message, whole (the chunk layer below has put its chunks together). */
export type RtmpMessage = {
  /** The message type id (MessageType). */
  type: number
  /** The message stream id: 0 for the connection's control and commands, else the stream createStream gave. */
  streamId: number
  /** Milliseconds, 32 bits (wraps). */
  timestamp: number
  payload: Buffer
}

export const MessageType = {
  SET_CHUNK_SIZE: 1,
  ABORT: 2,
  ACKNOWLEDGEMENT: 3,
  USER_CONTROL: 4,
  WINDOW_ACK_SIZE: 5,
  SET_PEER_BANDWIDTH: 6,
  AUDIO: 8,
  VIDEO: 9,
  DATA_AMF3: 15,
  SHARED_OBJECT_AMF3: 16,
  COMMAND_AMF3: 17,
  DATA_AMF0: 18,
  SHARED_OBJECT_AMF0: 19,
  COMMAND_AMF0: 20,
  AGGREGATE: 22,
} as const

export const UserControl = {
  STREAM_BEGIN: 0,
  STREAM_EOF: 1,
  STREAM_DRY: 2,
  SET_BUFFER_LENGTH: 3,
  STREAM_IS_RECORDED: 4,
  PING_REQUEST: 6,
  PING_RESPONSE: 7,
} as const

/** Chunk stream ids by what they carry (2 is reserved for protocol control). */
export const ChunkStreamId = {
  CONTROL: 2,
  COMMAND: 3,
  AUDIO: 4,
  VIDEO: 6,
  DATA: 5,
} as const

function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt32BE(value >>> 0, 0)
  return b
}

export function control(type: number, payload: Buffer): RtmpMessage {
  return { type, streamId: 0, timestamp: 0, payload }
}

export const setChunkSize = (size: number): RtmpMessage =>
  control(MessageType.SET_CHUNK_SIZE, u32(size & 0x7fffffff))
export const acknowledgement = (bytes: number): RtmpMessage =>
  control(MessageType.ACKNOWLEDGEMENT, u32(bytes))
export const windowAckSize = (size: number): RtmpMessage => control(MessageType.WINDOW_ACK_SIZE, u32(size))
export function setPeerBandwidth(size: number, limit: 0 | 1 | 2): RtmpMessage {
  const b = Buffer.allocUnsafe(5)
  b.writeUInt32BE(size >>> 0, 0)
  b[4] = limit
  return control(MessageType.SET_PEER_BANDWIDTH, b)
}

/** A User Control event: type, then a 4-byte value (a stream id or a timestamp), then extra for buffer length. */
export function userControl(event: number, value: number, extra?: number): RtmpMessage {
  const b = Buffer.allocUnsafe(extra === undefined ? 6 : 10)
  b.writeUInt16BE(event, 0)
  b.writeUInt32BE(value >>> 0, 2)
  if (extra !== undefined) b.writeUInt32BE(extra >>> 0, 6)
  return control(MessageType.USER_CONTROL, b)
}

/** Whether a message type is one this implementation knows (others are dropped, not fatal). */
export function isKnownType(type: number): boolean {
  return (type >= 1 && type <= 6) || type === 8 || type === 9 || (type >= 15 && type <= 20) || type === 22
}
