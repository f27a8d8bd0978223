// The codec contract shared by the socket layer, messaging and the CLI.
// A codec turns payloads into wire bytes and back. Decoding is incremental: bytes may arrive in any split.

/**
 * Incremental decoder state for one stream. Create one per connection with `codec.decoder()`.
 * `push` consumes a chunk and calls `onFrame` for every frame completed by it, in order.
 * A frame that lies within one chunk is a slice of that chunk (no copy); it is only valid
 * until the next `push`, unless the caller copies it. A frame that spans chunks is a fresh buffer of exactly
 * its size, owned by the caller. Decoders copy the bytes they hold back, so chunks may be reused after `push`.
 * Malformed input (oversize or corrupt length) throws a `ProtocolError`; the decoder is then unusable.
 */
export interface FrameDecoder {
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void
  /**
   * Decoders with a length field: the largest frame accepted from the next length field on, at most the
   * codec's maxFrameLength. Lowering it (a server before login) refuses big frames as soon as their
   * header is read.
   */
  maxFrameLength?: number
  /** Bytes held back waiting for the rest of a frame. */
  readonly buffered: number
  /** Call at end of stream: throws `ProtocolError` (WK_FRAME_TRUNCATED) when a partial frame is pending. */
  end(): void
}

/** A frame format: length field, delimiter or fixed length. */
export interface FrameCodec {
  /** New, independent decoding state for one stream. */
  decoder(): FrameDecoder
  /** The bytes that precede / follow `payloadLength` bytes of payload on the wire. */
  encodedLength(payloadLength: number): number
  /**
   * Writes header + payload + trailer into `target` at `offset`; returns the new offset.
   * Lets a writer coalesce many frames into one buffer (one syscall for many frames).
   */
  encodeInto(payload: Uint8Array, target: Buffer, offset: number): number
  /** One frame as one buffer (header + payload). Convenient, allocates. */
  encode(payload: Uint8Array): Buffer
}
