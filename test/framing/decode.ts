// Test helpers for the framing suite: feed chunks to a fresh decoder and keep copies of the frames.
import type { FrameCodec, FrameDecoder } from '../../src/framing/index.ts'

/** Decodes `chunks` with a new decoder, calls end(), and returns copies of the frames (slices die at the next push). */
export function decodeAll(codec: FrameCodec, chunks: Uint8Array[]): Buffer[] {
  const decoder = codec.decoder()
  const frames = pushAll(decoder, chunks)
  decoder.end()
  return frames
}

/** Pushes `chunks` into `decoder` and returns copies of the frames, without calling end(). */
export function pushAll(decoder: FrameDecoder, chunks: Uint8Array[]): Buffer[] {
  const frames: Buffer[] = []
  for (const chunk of chunks) decoder.push(Buffer.from(chunk), (frame) => frames.push(Buffer.from(frame)))
  return frames
}

/** Splits `bytes` at the given cut points (sorted, deduplicated, clamped), giving chunks that cover every byte. */
export function splitAt(bytes: Uint8Array, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(c, 0), bytes.length)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const to of points) {
    chunks.push(Buffer.from(bytes.subarray(from, to)))
    from = to
  }
  chunks.push(Buffer.from(bytes.subarray(from)))
  return chunks
}

/** One chunk per byte. */
export function bytewise(bytes: Uint8Array): Buffer[] {
  return Array.from(bytes, (b) => Buffer.of(b))
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex')
}
