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
 * The media received in one event-loop turn, handed to every player at once so a player gets one
 * write for all of it (one syscall instead of one per message). Players that take the whole batch in
 * the same encoding share one joined buffer.
 */
export type MediaBatch = { items: MediaItem[]; joined: Map<number, Buffer> | undefined }

/** How a player's bytes are made from an item: made once per player, not per batch. */
export type Encoding = {
  /** Which players share the bytes: RTMP stream id × 2^24 + chunk size (never negative), or FLV_KEY / WS_KEY. */
  readonly key: number
  readonly encode: (item: MediaItem) => Buffer
}

export const FLV_ENCODING: Encoding = { key: -1, encode: flvBytes }
export const WS_ENCODING: Encoding = { key: -2, encode: wsBytes }

export function rtmpEncoding(streamId: number, chunkSize: number): Encoding {
  return {
    key: streamId * 0x1000000 + chunkSize,
    encode: (item) => rtmpBytes(item, streamId, chunkSize),
  }
}

/** The whole batch in `encoding`, as one buffer made once and shared by every player that takes it. */
export function batchBytes(batch: MediaBatch, encoding: Encoding): Buffer {
  const { items } = batch
  if (items.length === 1) return encoding.encode(items[0]!)
  const known = batch.joined?.get(encoding.key)
  if (known !== undefined) return known
  const joined = Buffer.concat(items.map(encoding.encode))
  ;(batch.joined ??= new Map()).set(encoding.key, joined)
  return joined
}
