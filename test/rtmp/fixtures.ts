// Hand-built media for the RTMP tests: legacy FLV tags (H.264/AAC) and Enhanced RTMP HEVC, with
// payloads that say which frame they are, so a test can check every byte that arrives.
import { createHash, randomBytes } from 'node:crypto'
import { AmfEcmaArray, encodeAmf0, type FlvTag } from '../../src/rtmp/index.ts'

export const metadata = (): FlvTag => ({
  type: 18,
  timestamp: 0,
  data: encodeAmf0(
    'onMetaData',
    new AmfEcmaArray({ width: 320, height: 240, framerate: 25, videocodecid: 7 }),
  ),
})
export const avcConfig = (): FlvTag => ({
  type: 9,
  timestamp: 0,
  data: Buffer.from('1700000000014d401fffe1000a674d401f', 'hex'),
})
export const aacConfig = (): FlvTag => ({ type: 8, timestamp: 0, data: Buffer.from('af001210', 'hex') })

/** A video frame (keyframe or not) of `size` bytes whose body is random. */
export function avcFrame(timestamp: number, keyframe: boolean, size = 1000): FlvTag {
  return {
    type: 9,
    timestamp,
    data: Buffer.concat([Buffer.from([keyframe ? 0x17 : 0x27, 1, 0, 0, 0]), randomBytes(size)]),
  }
}
export function aacFrame(timestamp: number, size = 200): FlvTag {
  return { type: 8, timestamp, data: Buffer.concat([Buffer.from([0xaf, 1]), randomBytes(size)]) }
}

/** `gops` GOPs of `perGop` video frames at 25 fps (an audio frame beside each), from `start` ms. */
export function gops(gopCount: number, perGop: number, start = 0, size = 1000): FlvTag[] {
  const tags: FlvTag[] = []
  for (let g = 0; g < gopCount; g++) {
    for (let i = 0; i < perGop; i++) {
      const ts = start + (g * perGop + i) * 40
      tags.push(avcFrame(ts, i === 0, size), aacFrame(ts))
    }
  }
  return tags
}

// Enhanced RTMP: ExHeader bit, frame type (1 key, 2 inter) in bits 4-6, packet type in the low nibble.
const HVC1 = Buffer.from('hvc1', 'latin1')
export const hevcSequenceStart = (): FlvTag => ({
  type: 9,
  timestamp: 0,
  data: Buffer.concat([Buffer.from([0x80 | (1 << 4) | 0]), HVC1, randomBytes(40)]),
})
/** CodedFrames (packet type 1, with a composition time) or CodedFramesX (3, without). */
export function hevcFrame(timestamp: number, keyframe: boolean, x = false, size = 800): FlvTag {
  const head = Buffer.from([0x80 | ((keyframe ? 1 : 2) << 4) | (x ? 3 : 1)])
  const body = x ? randomBytes(size) : Buffer.concat([Buffer.from([0, 0, 40]), randomBytes(size)])
  return { type: 9, timestamp, data: Buffer.concat([head, HVC1, body]) }
}
export const opusConfig = (): FlvTag => ({
  type: 8,
  timestamp: 0,
  data: Buffer.concat([Buffer.from([0x90]), Buffer.from('Opus', 'latin1'), randomBytes(19)]),
})
export function opusFrame(timestamp: number): FlvTag {
  return {
    type: 8,
    timestamp,
    data: Buffer.concat([Buffer.from([0x91]), Buffer.from('Opus', 'latin1'), randomBytes(120)]),
  }
}

/** One line per tag: type, timestamp, length and a digest of the bytes (short enough to read in a diff). */
export const hex = (tags: FlvTag[]): string[] =>
  tags.map(
    (t) =>
      `${t.type}@${t.timestamp}:${t.data.length}:${createHash('sha1').update(t.data).digest('hex').slice(0, 16)}`,
  )
