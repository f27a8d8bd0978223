// The transport under a session: take chunks from the socket as they arrive, cut them into frames
// with the framing decoder and hand each frame to the owner; write one coalesced buffer at a time.
// One Connection per socket; the session above it outlives it across reconnects.

import type { WirekitError } from '../../errors.ts'
import type { FrameCodec, FrameDecoder } from '../../framing/index.ts'
import type { AsyncSocket, ChunkConsumer } from '../../socket/index.ts'
import { startTimer } from '../../util/timeout.ts'

/** The socket under a connection. Its bytes come through `socket.consume` (no read pending while idle). */
export type Transport = AsyncSocket

/** Receives the frames and the end of a connection. */
export interface ConnectionOwner {
  /** One frame, a slice valid until the next chunk. Throwing ends the connection with that error. */
  onFrame(frame: Buffer, conn: Connection): void
  /** After all the frames of one chunk: a good moment to schedule acks. */
  onChunk(conn: Connection): void
  /** A write finished; more may be written. */
  onWritable(conn: Connection): void
  /** Bytes to write before closing on `error` (a GOAWAY saying why), if any. */
  farewell(error: Error): Buffer | undefined
  /** The connection is gone (error undefined: orderly end). Called once. */
  onClose(conn: Connection, error: Error | undefined): void
}

/** Bytes in flight beyond which flushes wait for a write to complete (see `writing`). */
const WRITE_AHEAD_BYTES = 512 * 1024
/** How long a closing connection waits for its last bytes to leave before it is destroyed. */
const LINGER_MS = 1000

// The frame callback is module-level: the connection being read is parked here during `push`,
// which is synchronous, so no closure is made per connection.
let reading: Connection | undefined

function onFrame(frame: Buffer): void {
  const conn = reading!
  if (!conn.closed) conn.owner.onFrame(frame, conn)
}

// A decoder between two frames holds no state, so the connections of one codec share a spare one
// until a chunk of theirs ends inside a frame: from then on that connection keeps a decoder of its
// own. An idle connection whose frames always arrived whole keeps none. The spare is taken out of
// its slot while in use, so a nested read gets a fresh one.
type DecoderSlot = { readonly codec: FrameCodec; spare: FrameDecoder | undefined }
const slots = new WeakMap<FrameCodec, DecoderSlot>()

function slotFor(codec: FrameCodec): DecoderSlot {
  let slot = slots.get(codec)
  if (slot === undefined) {
    slot = { codec, spare: undefined }
    slots.set(codec, slot)
  }
  return slot
}

export class Connection implements ChunkConsumer {
  readonly socket: Transport
  owner: ConnectionOwner
  /** Where the codec's shared spare decoder waits. */
  readonly #slot: DecoderSlot
  /** Its own decoder, once a frame arrived split across chunks (before that, the slot's spare). */
  #decoder: FrameDecoder | undefined
  /** Time of the last inbound chunk (any frame counts as life). */
  lastInbound = Date.now()
  /** Time of the last write. */
  lastOutbound = Date.now()
  closed = false
  /** Bytes handed to the socket whose writes have not completed. */
  writingBytes = 0
  /** The server's record of open connections (for its caps and close); left on close. */
  registry: { delete(conn: Connection): unknown } | undefined
  /** Set while reading is paused (rate limit): resolves when reading may go on. */
  gate: Promise<void> | undefined
  /** The largest frame accepted for now (before login), or undefined for the codec's own limit. */
  #frameLimit: number | undefined

  constructor(socket: Transport, codec: FrameCodec, owner: ConnectionOwner) {
    this.socket = socket
    this.owner = owner
    this.#slot = slotFor(codec)
  }

  /**
   * Lowers the largest frame accepted (a server until the client has logged in: strangers cannot make it
   * hold big frames), or lifts the limit back to the codec's with undefined. A lowered limit needs a
   * decoder of the connection's own, since the shared spare carries the codec's limit.
   */
  limitFrames(max: number | undefined): void {
    this.#frameLimit = max
    const own = this.#decoder
    if (max === undefined) {
      if (own === undefined) return
      own.maxFrameLength = Number.POSITIVE_INFINITY
      // Between frames it holds nothing: back to the shared spare, so an idle connection keeps none.
      if (own.buffered === 0) this.#decoder = undefined
    } else if (own !== undefined) own.maxFrameLength = max
  }

  /** Starts taking the socket's bytes (those that arrived already first). */
  start(): void {
    this.socket.consume(this)
  }

  /** A chunk from the socket (ChunkConsumer): its frames go to the owner, then `onChunk`. */
  consumeChunk(chunk: Buffer): void {
    if (this.closed) return
    try {
      this.lastInbound = Date.now()
      const previous = reading
      reading = this
      const own = this.#decoder
      const slot = this.#slot
      let decoder = own
      if (decoder === undefined) {
        if (this.#frameLimit === undefined) {
          decoder = slot.spare ?? slot.codec.decoder()
          slot.spare = undefined
        } else {
          decoder = this.#decoder = slot.codec.decoder()
          decoder.maxFrameLength = this.#frameLimit
        }
      }
      try {
        decoder.push(chunk, onFrame)
      } catch (error) {
        // A decoder that threw is spent: it stays with this connection, which is about to close.
        this.#decoder = decoder
        throw error
      } finally {
        reading = previous
      }
      if (own === undefined && this.#decoder !== decoder) {
        if (decoder.buffered > 0) this.#decoder = decoder
        else slot.spare = decoder
      }
      if (this.closed) return
      this.owner.onChunk(this)
      // Reading paused (rate limit): the socket holds the bytes, TCP slows the sender meanwhile.
      if (this.gate !== undefined) this.#pauseUntil(this.gate)
    } catch (error) {
      this.#failed(error as Error)
    }
  }

  /** The socket will deliver nothing more (ChunkConsumer). */
  consumeEnd(reason: WirekitError): void {
    this.#failed(reason)
  }

  #pauseUntil(gate: Promise<void>): void {
    this.socket.consume(undefined)
    void gate.then(() => {
      if (this.closed) return
      // Opening the gate may have closed it again (more held back than the refilled budget).
      if (this.gate !== undefined) this.#pauseUntil(this.gate)
      else this.socket.consume(this)
    })
  }

  /** Reading stopped on `error`: an orderly end of stream when the peer sent FIN, unless it cut a frame in half. */
  #failed(error: Error): void {
    if (this.closed) return
    let reason: Error | undefined = error
    if (this.socket.readEnded) {
      try {
        this.#decoder?.end()
        reason = undefined
      } catch (truncated) {
        reason = truncated as Error
      }
    }
    this.close(reason, reason && this.owner.farewell(reason))
  }

  /**
   * Whether the next flush should wait for writes in flight (natural coalescing and backpressure).
   * Up to WRITE_AHEAD_BYTES may be in flight, so a sender can hand over a batch while it builds the
   * next one, and an ack is never held back behind a write that has not completed yet.
   */
  get writing(): boolean {
    return this.writingBytes >= WRITE_AHEAD_BYTES
  }

  /** Writes one buffer (in order after those in flight). */
  write(data: Buffer): void {
    if (this.closed) return
    const bytes = data.length
    this.writingBytes += bytes
    this.lastOutbound = Date.now()
    this.socket.write(data).then(
      () => {
        this.writingBytes -= bytes
        if (!this.closed) this.owner.onWritable(this)
      },
      (error: Error) => this.close(error),
    )
  }

  /**
   * Ends the connection. With `last` bytes (a GOAWAY), they are written first and the socket ends
   * gracefully, or is destroyed after a short linger if the peer does not take them.
   */
  close(error: Error | undefined, last?: Buffer): void {
    if (this.closed) return
    this.closed = true
    this.registry?.delete(this)
    const socket = this.socket
    if (last !== undefined) {
      // The peer gets a moment to read why; a peer that never closes its side is destroyed anyway,
      // so a half-open socket cannot linger.
      const cancel = startTimer(LINGER_MS, () => socket.destroy())
      socket.once('close', cancel)
      socket
        .write(last)
        .then(() => socket.end())
        .catch(() => socket.destroy())
    } else {
      socket.destroy()
    }
    this.owner.onClose(this, error)
  }
}
