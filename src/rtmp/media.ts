// What the server needs to know about the media it relays, read from the first bytes of each tag:
// is it a keyframe, a sequence header (decoder configuration), which codec. Covers legacy FLV
// (H.264/AVC, AAC) and Enhanced RTMP (v1/v2: an ExHeader bit, a FourCC such as hvc1, av01, vp09, Opus).

/** E-RTMP video packet types (the low nibble when the ExHeader bit is set). */
const VIDEO_SEQUENCE_START = 0
const VIDEO_MULTITRACK = 6
const VIDEO_METADATA = 4
/** E-RTMP audio: sound format 9 says "ExAudioTagHeader follows". */
const AUDIO_EX_HEADER = 9
const AUDIO_SEQUENCE_START = 0

/** True for a video tag that a decoder can start from (a keyframe, or a sequence header / metadata). */
export function isKeyframe(data: Uint8Array): boolean {
  if (data.length === 0) return false
  const frameType = (data[0]! >> 4) & 0x07
  return frameType === 1
}

/** True for a tag that configures the decoder: AVC/HEVC/AV1 sequence header or start, AAC/Opus config. */
export function isSequenceHeader(type: number, data: Uint8Array): boolean {
  if (data.length < 2) return false
  if (type === 9) {
    if (data[0]! & 0x80) {
      const packetType = data[0]! & 0x0f
      return (
        packetType === VIDEO_SEQUENCE_START ||
        packetType === VIDEO_METADATA ||
        (packetType === VIDEO_MULTITRACK && isMultitrackStart(data))
      )
    }
    const codec = data[0]! & 0x0f
    // AVC (7) and the legacy HEVC (12) that some servers used before E-RTMP: packet type 0 = config.
    return (codec === 7 || codec === 12 || codec === 13) && data[1] === 0
  }
  if (type === 8) {
    const format = data[0]! >> 4
    if (format === 10) return data[1] === 0 // AAC sequence header
    if (format === AUDIO_EX_HEADER) return (data[0]! & 0x0f) === AUDIO_SEQUENCE_START
    return false
  }
  return false
}

function isMultitrackStart(data: Uint8Array): boolean {
  // Multitrack: byte 1 high nibble is the multitrack type, low nibble the packet type.
  return data.length > 1 && (data[1]! & 0x0f) === VIDEO_SEQUENCE_START
}

/** The codec name of a video tag: avc, hevc, av1, vp9… or a FourCC string. */
export function videoCodec(data: Uint8Array): string | undefined {
  if (data.length === 0) return undefined
  if (data[0]! & 0x80) {
    if (data.length < 5) return undefined
    const fourcc = String.fromCharCode(data[1]!, data[2]!, data[3]!, data[4]!)
    return FOURCC[fourcc] ?? fourcc
  }
  return LEGACY_VIDEO[data[0]! & 0x0f]
}

/** The codec name of an audio tag: aac, mp3, opus… */
export function audioCodec(data: Uint8Array): string | undefined {
  if (data.length === 0) return undefined
  const format = data[0]! >> 4
  if (format === AUDIO_EX_HEADER) {
    if (data.length < 5) return undefined
    const fourcc = String.fromCharCode(data[1]!, data[2]!, data[3]!, data[4]!)
    return FOURCC[fourcc] ?? fourcc
  }
  return LEGACY_AUDIO[format]
}

const FOURCC: Record<string, string> = {
  hvc1: 'hevc',
  av01: 'av1',
  vp09: 'vp9',
  avc1: 'avc',
  Opus: 'opus',
  fLaC: 'flac',
  'ac-3': 'ac3',
  'ec-3': 'eac3',
  '.mp3': 'mp3',
  mp4a: 'aac',
}
const LEGACY_VIDEO: Record<number, string> = {
  2: 'h263',
  3: 'screen',
  4: 'vp6',
  5: 'vp6a',
  7: 'avc',
  12: 'hevc',
}
const LEGACY_AUDIO: Record<number, string> = {
  0: 'pcm',
  2: 'mp3',
  3: 'pcm',
  10: 'aac',
  11: 'speex',
  14: 'mp3',
}

/** True for a data message that is onMetaData (after any @setDataFrame was taken off). */
export function isMetadata(data: Uint8Array): boolean {
  // AMF0 string marker, length 10, "onMetaData"
  return (
    data.length >= 13 &&
    data[0] === 2 &&
    data[1] === 0 &&
    data[2] === 10 &&
    Buffer.from(data.buffer, data.byteOffset + 3, 10).toString('latin1') === 'onMetaData'
  )
}

const SET_DATA_FRAME = Buffer.from('\x02\x00\x0d@setDataFrame', 'latin1')

/** A publisher's "@setDataFrame", "onMetaData", {…} becomes the "onMetaData", {…} players get. */
export function stripSetDataFrame(data: Buffer): Buffer {
  return data.length > SET_DATA_FRAME.length && data.subarray(0, SET_DATA_FRAME.length).equals(SET_DATA_FRAME)
    ? data.subarray(SET_DATA_FRAME.length)
    : data
}

/** The other way: what a publisher sends for an FLV file's onMetaData tag. */
export function withSetDataFrame(data: Buffer): Buffer {
  return isMetadata(data) ? Buffer.concat([SET_DATA_FRAME, data]) : data
}
