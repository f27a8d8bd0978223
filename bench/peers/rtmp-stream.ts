// The stream of the RTMP fan-out benchmark, shared by its publisher (bench/rtmp-fanout.ts) and its
// no-protocol floor (flv-floor.ts): ~3 Mbps, 25 fps of 15 KB video frames carrying their send time,
// a keyframe every 2 s, an AAC frame beside each.

export const FPS = 25
export const FRAME_BYTES = 15_000 // 25 × 15 KB × 8 ≈ 3 Mbps
export const GOP = 50
// A real H.264 (x264) decoder configuration and AAC-LC one, so servers parse them as they would live.
export const AVC_CONFIG = Buffer.from(
  '17000000000142c00dffe100166742c00dda0507ec0440000003004000000c83c50aa801000468ce0fc8',
  'hex',
)
export const AAC_CONFIG = Buffer.from('af00120856e500', 'hex')

/** Wall-clock milliseconds, comparable across the benchmark's processes. */
export const wallNow = (): number => performance.timeOrigin + performance.now()

/** Video frame `n` (an AVC NAL unit packet) with its send time at byte 5, where players read it. */
export function videoFrame(n: number): Buffer {
  const video = Buffer.alloc(FRAME_BYTES, n & 0xff)
  video[0] = n % GOP === 0 ? 0x17 : 0x27
  video[1] = 1
  video.writeDoubleBE(wallNow(), 5)
  return video
}

export const audioFrame = (): Buffer => Buffer.alloc(200, 0xaf)
