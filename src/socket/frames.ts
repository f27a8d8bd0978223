// Frames over an AsyncSocket: decode with any FrameCodec (length field, delimiter, fixed length) and
// write frames with one allocation and one write. The codecs themselves live in src/framing/.

import { ClosedError, ErrorCodes } from '../errors.ts'
import type { FrameCodec } from '../framing/index.ts'
import type { WriteOptions } from './options.ts'

/** Options of writeFrame: those of write(). */
export type WriteFrameOptions = WriteOptions

/** The two socket operations frames need (keeps this file free of the AsyncSocket import cycle). */
type ByteStream = {
  read(): Promise<Buffer>
  write(data: Uint8Array, options?: WriteOptions): Promise<void>
}

/**
 * Decoded frames until the peer's FIN. A frame the decoder assembled in a buffer of its own is copied,
 * since the decoder may reuse that buffer; a frame sliced from a received chunk is handed out as is
 * (chunks are never reused), so the common case costs no copy.
 */
export async function* readFrames(
  socket: ByteStream,
  codec: FrameCodec,
): AsyncGenerator<Buffer, void, undefined> {
  const decoder = codec.decoder()
  const frames: Buffer[] = []
  for (;;) {
    let chunk: Buffer
    try {
      chunk = await socket.read()
    } catch (error) {
      // End of stream is the normal end of the frames; a partial frame left over is an error.
      if (error instanceof ClosedError && error.code === ErrorCodes.CLOSED) {
        decoder.end()
        return
      }
      throw error
    }
    let failure: unknown
    try {
      decoder.push(chunk, (frame) => {
        frames.push(isInside(frame, chunk) ? frame : Buffer.from(frame))
      })
    } catch (error) {
      // Fail fast but lose nothing (as Netty does): frames that arrived whole before the bad one go out first.
      failure = error
    }
    for (let i = 0; i < frames.length; i++) yield frames[i]!
    frames.length = 0
    if (failure !== undefined) throw failure
  }
}

/** Encodes one frame into a single buffer and writes it. */
export function writeFrame(
  socket: ByteStream,
  codec: FrameCodec,
  payload: Uint8Array,
  options?: WriteFrameOptions,
): Promise<void> {
  const frame = Buffer.allocUnsafe(codec.encodedLength(payload.length))
  codec.encodeInto(payload, frame, 0)
  return socket.write(frame, options)
}

/** True when `frame` is a view of bytes inside `chunk` (so the decoder cannot overwrite it). */
function isInside(frame: Buffer, chunk: Buffer): boolean {
  return (
    frame.buffer === chunk.buffer &&
    frame.byteOffset >= chunk.byteOffset &&
    frame.byteOffset + frame.length <= chunk.byteOffset + chunk.length
  )
}
