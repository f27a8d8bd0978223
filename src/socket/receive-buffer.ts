// Where the kernel writes the next read of a plaintext socket AsyncSocket opened or AsyncServer accepted
// (net's `onread`). As in GCDAsyncSocket, a large read({ length }) gets a destination of its own, sized
// so the kernel stops exactly at the record's end: bytes land where the read returns them, never copied.
// A quiet connection pins no memory: it shares one scratch buffer with every other quiet socket and
// each read is copied out of it at once. A busy one (the kernel had more than the last read took)
// reads into an arena of its own, handed out as views.
import type { OnReadOpts, Socket } from 'node:net'
import { view } from './chunk-list.ts'

/** Reads of at least this many bytes get a destination of their own. */
const RECORD_MIN = 16 * 1024
/** Larger reads are not preallocated (the peer may never send that much): they gather from arenas. */
const RECORD_MAX = 1024 * 1024
/** A busy socket's arena, filled by consecutive kernel reads. */
const ARENA = 64 * 1024
/** An arena remainder smaller than this is not offered to the kernel (reads would get short). */
const MIN_TAIL = 16 * 1024

/**
 * Shared by every quiet socket. Safe because the kernel writes into it only inside one socket's read
 * callback, which copies the bytes out before any other socket can read.
 */
const scratch = Buffer.allocUnsafeSlow(64 * 1024)

/** What the receive side needs to know about the reads waiting for bytes. */
export type RecordPlanner = {
  /** See ReadQueue.nextRecordBytes. */
  nextRecordBytes(min: number): number
}

/** Where a receiver hands each chunk: `owner` is the object given to attach() (no closure per socket). */
export type ChunkSink = (owner: never, chunk: Buffer) => void

/** The ReceiveBuffer of a socket that reads through `ReceiveBuffer.onread`. */
const kReceiver = Symbol('wirekit.receiveBuffer')
type Receiving = Socket & { [kReceiver]?: ReceiveBuffer }

/**
 * The receiver whose read just completed. Node calls `onread.buffer` (without `this`) right after
 * `onread.callback` (with the socket as `this`) of the same socket, and once when the handle is set up,
 * before any byte: so the callback leaves its receiver here for the `buffer` call that follows, which
 * takes it. A `buffer` call with nothing here gets the shared scratch, which is safe for any socket.
 */
let justRead: ReceiveBuffer | undefined

export class ReceiveBuffer {
  #planner: RecordPlanner | undefined
  #sink: ChunkSink = dropChunk
  #owner: unknown
  /** The unfilled rest of the last destination when it was our own: the next read continues there. */
  #tail: Buffer | undefined
  #busy = false
  /** The destination last offered was capped at a record's end (filling it says nothing about more). */
  #capped = false

  /**
   * The `onread` option of net.connect / new net.Socket, shared by every socket (then `bind()` each
   * socket to its receiver): `buffer` picks each read's destination, `callback` takes the bytes. The
   * socket is paused through pause(), so the callback never returns false.
   */
  static readonly onread: OnReadOpts = {
    buffer: () => {
      const receiver = justRead
      justRead = undefined
      return receiver === undefined ? scratch : receiver.#next()
    },
    callback(this: Receiving, nread: number, buffer: Uint8Array): boolean {
      const receiver = this[kReceiver]
      if (receiver === undefined) return true
      receiver.#received(nread, buffer as Buffer)
      justRead = receiver
      return true
    },
  } as OnReadOpts

  /**
   * The shared `onread` option for a socket about to be created. Node asks for the new socket's first
   * buffer during its creation with no read callback before it; clearing `justRead` here means that call
   * gets the scratch, even if an earlier callback threw (then Node skipped the `buffer` call that would
   * have taken it) and left another socket's receiver behind.
   */
  static onreadForNewSocket(): OnReadOpts {
    justRead = undefined
    return ReceiveBuffer.onread
  }

  /** Makes `socket` (created with `ReceiveBuffer.onread`, not read from yet) read through this receiver. */
  bind(socket: Socket): void {
    ;(socket as Receiving)[kReceiver] = this
  }

  /**
   * Received chunks go to `sink(owner, chunk)`; `planner` sizes destinations for large reads (none:
   * no records).
   */
  attach<Owner>(
    owner: Owner,
    sink: (owner: Owner, chunk: Buffer) => void,
    planner: RecordPlanner | undefined,
  ): void {
    this.#owner = owner
    this.#sink = sink as ChunkSink
    this.#planner = planner
  }

  /** Sizes destinations for large reads from now on (the socket made its read queue). */
  plan(planner: RecordPlanner): void {
    this.#planner = planner
  }

  #next(): Buffer {
    const want = this.#planner?.nextRecordBytes(RECORD_MIN) ?? 0
    const tail = this.#tail
    this.#capped = want > 0 && want <= RECORD_MAX
    if (this.#capped) {
      // Continue the record in place when its start is right before the tail.
      if (tail !== undefined && tail.length >= want)
        return tail.length === want ? tail : view(tail.buffer, tail.byteOffset, want)
      return Buffer.allocUnsafeSlow(want)
    }
    if (!this.#busy) return scratch
    if (tail !== undefined && tail.length >= MIN_TAIL) return tail
    return Buffer.allocUnsafeSlow(ARENA)
  }

  #received(nread: number, buffer: Buffer): void {
    // The kernel had at least as much as we offered: more is probably waiting, so the next read goes
    // into an arena of our own. A read that drained it returns to the shared scratch, so a connection
    // that falls quiet pins no memory.
    if (!this.#capped) this.#busy = nread === buffer.length
    if (buffer === scratch) {
      this.#tail = undefined
      const chunk = Buffer.allocUnsafe(nread)
      scratch.copy(chunk, 0, 0, nread)
      this.#sink(this.#owner as never, chunk)
      return
    }
    this.#tail =
      nread < buffer.length
        ? view(buffer.buffer, buffer.byteOffset + nread, buffer.length - nread)
        : undefined
    this.#sink(
      this.#owner as never,
      nread === buffer.length ? buffer : view(buffer.buffer, buffer.byteOffset, nread),
    )
  }
}

function dropChunk(): void {}
