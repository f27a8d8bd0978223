// The transport loop under a session: read chunks from the socket, cut them into frames with the
// framing decoder and hand each frame to the owner; write one coalesced buffer at a time.
// One Connection per socket; the session above it outlives it across reconnects.

import type { FrameCodec, FrameDecoder } from '../framing/codec.ts'
import { startTimer } from '../util/timeout.ts'

/** What the messaging layer needs from a socket (AsyncSocket satisfies it). */
export interface Transport {
  read(): Promise<Buffer>
  write(data: Buffer): Promise<unknown>
  end(): Promise<unknown>
  destroy(error?: Error): void
  /** True once the peer's FIN arrived (reads then reject). */
  readonly readEnded?: boolean
  /** Fully closed (both directions). */
  once?(event: 'close', listener: () => void): unknown
}

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

export class Connection {
  readonly socket: Transport
  owner: ConnectionOwner
  #decoder: FrameDecoder
  /** Time of the last inbound chunk (any frame counts as life). */
  lastInbound = Date.now()
  /** Time of the last write. */
  lastOutbound = Date.now()
  closed = false
  /** Bytes handed to the socket whose writes have not completed. */
  writingBytes = 0
  /** The server's set of open connections (for maxConnections and close); left on close. */
  registry: Set<Connection> | undefined
  /** Set while reading is paused (rate limit): resolves when reading may go on. */
  gate: Promise<void> | undefined

  constructor(socket: Transport, codec: FrameCodec, owner: ConnectionOwner) {
    this.socket = socket
    this.owner = owner
    this.#decoder = codec.decoder()
  }

  start(): void {
    void this.#readLoop()
  }

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        const chunk = await this.socket.read()
        if (this.closed) return
        if (chunk === undefined || chunk === null || chunk.length === 0) {
          this.#decoder.end()
          this.close(undefined)
          return
        }
        this.lastInbound = Date.now()
        const previous = reading
        reading = this
        try {
          this.#decoder.push(chunk, onFrame)
        } finally {
          reading = previous
        }
        if (this.closed) return
        this.owner.onChunk(this)
        if (this.gate !== undefined) await this.gate
      }
    } catch (error) {
      if (this.closed) return
      let reason = error as Error | undefined
      if (this.socket.readEnded === true) {
        // An orderly end of stream, unless it cut a frame in half.
        try {
          this.#decoder.end()
          reason = undefined
        } catch (truncated) {
          reason = truncated as Error
        }
      }
      this.close(reason, reason && this.owner.farewell(reason))
    }
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
      socket.once?.('close', cancel)
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
