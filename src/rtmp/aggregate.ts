// RTMP aggregate messages (type 22): several audio, video and data messages in one, each laid out as
// an FLV tag (11-byte header, body, 4-byte back pointer). Split here into ordinary messages whose
// payloads are views of the aggregate's: nothing is allocated by a size the peer wrote, and a size
// that points past the end is a typed error, not a read out of bounds.
import { ErrorCodes, ProtocolError } from '../errors.ts'
import { MessageType, type RtmpMessage } from './message.ts'

const SUB_HEADER = 11
const BACK_POINTER = 4

function aggregateError(message: string): ProtocolError {
  return new ProtocolError(ErrorCodes.RTMP_CHUNK, `aggregate message: ${message}`)
}

/**
 * The audio, video and data messages inside an aggregate, on the aggregate's message stream.
 * Timestamps: the first sub-message is at the aggregate's timestamp and the others keep their offset
 * from it (RTMP 1.0 §7.1.6; what FMS and nginx-rtmp do). Other types inside (a nested aggregate,
 * commands) are dropped: a command has no business in there. The back pointer after the last
 * sub-message may be missing; its value is not checked (it says nothing the sizes do not).
 */
export function splitAggregate(aggregate: RtmpMessage): RtmpMessage[] {
  const payload = aggregate.payload
  const messages: RtmpMessage[] = []
  let at = 0
  let first: number | undefined
  while (at < payload.length) {
    if (payload.length - at < SUB_HEADER)
      throw aggregateError(`${payload.length - at} bytes left at offset ${at}, less than a header`)
    const type = payload[at]! & 0x1f
    const size = payload.readUIntBE(at + 1, 3)
    const timestamp = (payload.readUIntBE(at + 4, 3) | (payload[at + 7]! << 24)) >>> 0
    const body = at + SUB_HEADER
    if (size > payload.length - body)
      throw aggregateError(
        `sub-message of ${size} bytes at offset ${at} runs past the end (${payload.length})`,
      )
    first ??= timestamp
    if (type === MessageType.AUDIO || type === MessageType.VIDEO || type === MessageType.DATA_AMF0)
      messages.push({
        type,
        streamId: aggregate.streamId,
        timestamp: (aggregate.timestamp + timestamp - first) >>> 0,
        payload: payload.subarray(body, body + size),
      })
    at = Math.min(payload.length, body + size + BACK_POINTER)
  }
  return messages
}
