// A media message as the server relays it: the tag, what kind it is (keyframe, decoder
// configuration), and its encodings, made once and shared by every player that gets it.
import { encodeChunks } from './chunk-writer.ts'
import { encodeFlvTag, type FlvTag } from './flv.ts'
import { isKeyframe, isSequenceHeader } from './media.ts'
import { ChunkStreamId, MessageType } from './message.ts'
import { WsOpcode, wsFrame } from './websocket.ts'

export type MediaItem = FlvTag & {
  /** A video frame a decoder can start from. */
  keyframe: boolean
  /** Metadata or a sequence header: every player needs it, skipping never drops it. */
  config: boolean
  /** The RTMP chunks of this message, for `rtmpKey` (stream id and chunk size). */
  rtmp: Buffer | undefined
  rtmpKey: number
  flv: Buffer | undefined
  /** The FLV tag in a WebSocket binary frame (WebSocket-FLV). */
  ws: Buffer | undefined
}

export function mediaItem(type: 8 | 9 | 18, timestamp: number, data: Buffer): MediaItem {
  const config = type === 18 || isSequenceHeader(type, data)
  return {
    type,
    timestamp,
    data,
    keyframe: type === 9 && !config && isKeyframe(data),
    config,
    rtmp: undefined,
    rtmpKey: -1,
    flv: undefined,
    ws: undefined,
  }
}

const CSID: Record<number, number> = {
  [MessageType.AUDIO]: ChunkStreamId.AUDIO,
  [MessageType.VIDEO]: ChunkStreamId.VIDEO,
  [MessageType.DATA_AMF0]: ChunkStreamId.DATA,
}

/** The item's RTMP chunks for a player's stream id and our chunk size: encoded once for the common case. */
export function rtmpBytes(item: MediaItem, streamId: number, chunkSize: number): Buffer {
  const key = streamId * 0x1000000 + chunkSize
  if (item.rtmpKey === key) return item.rtmp!
  const bytes = encodeChunks(item.type, streamId, item.timestamp, item.data, CSID[item.type]!, chunkSize)
  if (item.rtmp === undefined) {
    item.rtmp = bytes
    item.rtmpKey = key
  }
  return bytes
}

export function flvBytes(item: MediaItem): Buffer {
  item.flv ??= encodeFlvTag(item.type, item.timestamp, item.data)
  return item.flv
}

export function wsBytes(item: MediaItem): Buffer {
  item.ws ??= wsFrame(WsOpcode.BINARY, flvBytes(item))
  return item.ws
}

/**
 * The media of one publisher read, handed to every player at once so a player gets one write for
 * all of it (one syscall instead of one per message). Players that take the whole batch in the same
 * encoding share one joined buffer.
 */
export type MediaBatch = { items: MediaItem[]; joined: Map<number, Buffer> | undefined }

/** Keys of the joined encodings besides RTMP's (stream id × 2^24 + chunk size, never negative). */
export const FLV_KEY = -1
export const WS_KEY = -2

/** `admitted` (the batch's items a player takes, in order) as one buffer; shared when it is all of them. */
export function gather(
  batch: MediaBatch,
  admitted: MediaItem[],
  key: number,
  encode: (item: MediaItem) => Buffer,
): Buffer {
  if (admitted.length === 1) return encode(admitted[0]!)
  const whole = admitted.length === batch.items.length
  const known = whole ? batch.joined?.get(key) : undefined
  if (known !== undefined) return known
  const joined = Buffer.concat(admitted.map(encode))
  if (whole) (batch.joined ??= new Map()).set(key, joined)
  return joined
}
