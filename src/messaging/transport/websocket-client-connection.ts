// A Connection over a WHATWG-style WebSocket (`ws`'s, see websocket-node.ts), for MessageClient in Node
// (ws:// and wss:// URLs). Each binary message is one envelope, or a batch of them (../wire/batch.ts):
// the client offers batches in its HELLO, so it takes them at once, and sends them once the WELCOME
// agrees. The session's length-prefixed flushes are split into messages.
// Backpressure comes from `bufferedAmount`: above the high-water mark the session's flushes wait.

import { ClosedError, ErrorCodes, ProtocolError } from '../../errors.ts'
import type { FrameCodec } from '../../framing/codec.ts'
import type { AsyncSocket } from '../../socket/index.ts'
import { BATCH_MAX_BYTES, batchLimit, packBatches } from '../wire/batch.ts'
import { Connection, type ConnectionOwner } from './connection.ts'
import { HIGH_WATER_BYTES, whenDrained } from './websocket-client.ts'
import { deliver, eachFrame } from './websocket-frames.ts'

export class WebSocketClientConnection extends Connection {
  readonly ws: WebSocket
  #cancelDrain: (() => void) | undefined
  /** The largest batch we take (0 until the HELLO offers batches) and the largest the server takes. */
  #takeBatch = 0
  #sendBatch = 0

  constructor(ws: WebSocket, codec: FrameCodec, owner: ConnectionOwner) {
    // Destroying the "socket" (tests cut transports this way) ends this connection at once.
    const facade = {
      remoteAddress: undefined,
      readEnded: false,
      destroy: () => this.close(new ClosedError(ErrorCodes.CONNECTION_RESET, 'WebSocket destroyed')),
    }
    super(facade as unknown as AsyncSocket, codec, owner)
    this.ws = ws
  }

  /** For the HELLO's `batch`: from now on batches are taken; returns the largest. */
  offerBatches(): number {
    this.#takeBatch = BATCH_MAX_BYTES
    return this.#takeBatch
  }

  /** The WELCOME's `batch`: from now on envelopes may go out in batches of at most that. */
  agreeBatches(accepted: unknown, maxFrameLength: number): void {
    this.#sendBatch = batchLimit(accepted, maxFrameLength)
  }

  override start(): void {
    const ws = this.ws
    ws.onmessage = (event) => this.#receive(event.data)
    ws.onclose = (event) => {
      if (this.closed) return
      this.close(
        event.code === 1000 || event.code === 1001
          ? undefined
          : new ClosedError(ErrorCodes.CONNECTION_RESET, `WebSocket closed (${event.code} ${event.reason})`),
      )
    }
    ws.onerror = null
  }

  #receive(data: unknown): void {
    if (this.closed) return
    try {
      this.lastInbound = Date.now()
      if (!(data instanceof ArrayBuffer)) {
        throw new ProtocolError(
          ErrorCodes.PROTOCOL,
          'Bad frame: a text WebSocket message (envelopes are binary)',
        )
      }
      deliver(this, Buffer.from(data), this.#takeBatch)
      if (!this.closed) this.owner.onChunk(this)
    } catch (error) {
      this.close(error as Error, this.owner.farewell(error as Error))
    }
  }

  override get writing(): boolean {
    return this.ws.bufferedAmount >= HIGH_WATER_BYTES
  }

  override write(data: Buffer): void {
    if (this.closed) return
    this.lastOutbound = Date.now()
    const ws = this.ws
    // `ws` writes each message on its own; corking its socket makes the batch one write.
    const socket = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket
    socket?.cork()
    if (this.#sendBatch > 0)
      packBatches(data, this.#sendBatch, Buffer.allocUnsafe, (message) => ws.send(message))
    else eachFrame(data, (frame) => ws.send(frame))
    socket?.uncork()
    if (ws.bufferedAmount >= HIGH_WATER_BYTES && this.#cancelDrain === undefined) {
      this.#cancelDrain = whenDrained(ws, () => {
        this.#cancelDrain = undefined
        if (!this.closed) this.owner.onWritable(this)
      })
    }
  }

  override close(error: Error | undefined, last?: Buffer): void {
    if (this.closed) return
    this.closed = true
    this.#cancelDrain?.()
    const ws = this.ws
    ws.onmessage = null
    ws.onclose = null
    if (last !== undefined && ws.readyState === 1) eachFrame(last, (frame) => ws.send(frame))
    // Platform sockets may only close with 1000 or 3000-4999; 4000 says "not a normal end".
    if (ws.readyState <= 1) ws.close(error === undefined ? 1000 : 4000)
    this.owner.onClose(this, error)
  }
}
