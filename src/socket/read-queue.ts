// The read side of an AsyncSocket: the unread bytes (a ChunkList) and a queue of reads served strictly
// in call order. Bytes are sliced out of the chunks, copied only when a read spans chunks, so no byte
// is lost or reordered when reads of different kinds are mixed.
import { ClosedError, ErrorCodes, ProtocolError, type WirekitError } from '../errors.ts'
import { ChunkList } from './chunk-list.ts'
import { Fifo } from './fifo.ts'

/** What a queued read waits for. A 'barrier' holds every later read back (startTLS). */
export type ReadKind = 'any' | 'length' | 'until' | 'barrier'

/** One queued read. Created only when a read cannot complete at once. */
export type PendingRead = {
  kind: ReadKind
  length: number
  delimiter: Buffer | undefined
  maxLength: number
  tag: unknown
  resolve: (data: Buffer) => void
  reject: (error: WirekitError) => void
  /** Cancels the timeout and the abort listener; set by the socket. */
  cleanup: (() => void) | undefined
  /**
   * Until reads: bytes already searched for the delimiter without finding it, so a search never
   * restarts. Barriers: 1 once reached.
   */
  scanned: number
  /** The read queued after this one (owned by the queue). */
  next: PendingRead | undefined
}

const EMPTY = Buffer.alloc(0)

/**
 * Callbacks from the queue to its socket, which they get as `owner`: one host object serves every
 * socket, so an idle socket carries no closures for them.
 */
export type ReadQueueHost<Owner> = {
  /** A read completed with `data`. */
  completed(owner: Owner, data: Buffer, tag: unknown): void
  /** A read that needs more bytes has `done` of `total` (NaN for until reads). */
  progress(owner: Owner, done: number, total: number, tag: unknown): void
  /** Stop pulling bytes from the kernel: the buffer is past its high-water mark. */
  pause(owner: Owner): void
  /** Pull again. */
  resume(owner: Owner): void
}

/**
 * The receive buffer and the read queue.
 *
 *   bytes:  [ c0 (from offset) | c1 | c2 ... ]   buffered = unread bytes in all of them
 *   reads:  [ r0 (head) | r1 | ... ]             served in order while bytes suffice
 */
export class ReadQueue<Owner = unknown> {
  readonly #owner: Owner
  readonly #host: ReadQueueHost<Owner>
  readonly #highWaterMark: number
  readonly #bytes = new ChunkList()
  readonly #reads = new Fifo<PendingRead>()
  /** Length of the last completed read({ length }), 0 after any other kind. */
  #lastLength = 0
  /**
   * The last two completed reads were length reads of the same size: the stream looks like a run of
   * equal records, so the next read is predicted to be one more (a header/body protocol is not).
   */
  #steady = false
  #paused = false
  /** Set once no more bytes will arrive (peer FIN or close): the reason reads fail from now on. */
  #ended: WirekitError | undefined
  /** Wakers of whenIdle(), created on first use (close() and startTLS only). */
  #idleWaiters: (() => void)[] | undefined

  constructor(owner: Owner, host: ReadQueueHost<Owner>, highWaterMark: number) {
    this.#owner = owner
    this.#host = host
    this.#highWaterMark = highWaterMark
  }

  /** Unread bytes held in user space. */
  get buffered(): number {
    return this.#bytes.length
  }

  /** Reads waiting for bytes. */
  get pending(): number {
    return this.#reads.size
  }

  /** True once the stream has ended: later reads fail once the buffer is drained. */
  get ended(): boolean {
    return this.#ended !== undefined
  }

  /**
   * Serves a read at once if the buffer allows (the fast path: no request object, no queue), else
   * returns undefined and the caller queues it with `enqueue`.
   */
  tryRead(
    kind: ReadKind,
    length: number,
    delimiter: Buffer | undefined,
    maxLength: number,
  ): Buffer | undefined {
    const bytes = this.#bytes
    const buffered = bytes.length
    if (buffered === 0 || this.#reads.first !== undefined) return undefined
    let data: Buffer | undefined
    if (kind === 'length') {
      if (length > buffered) return undefined
      data = bytes.take(length)
      this.#steady = length === this.#lastLength
      this.#lastLength = length
    } else {
      this.#lastLength = 0
      this.#steady = false
      if (kind === 'any') data = buffered <= maxLength ? bytes.takeAll() : bytes.take(maxLength)
      else {
        const end = bytes.indexAfter(delimiter!, 0)
        if (end < 0 || end > maxLength) return undefined
        data = bytes.take(end)
      }
    }
    if (this.#paused) this.#maybeResume()
    return data
  }

  /**
   * How many bytes the next kernel read should be capped at so it ends exactly where a large
   * read({ length }) ends, or 0 when no such read (of at least `min` bytes) is queued or expected.
   * Reads stay aligned with the stream's records, so each one fills a destination of its own.
   */
  nextRecordBytes(min: number): number {
    const buffered = this.#bytes.length
    const head = this.#reads.first
    if (head !== undefined) {
      return head.kind === 'length' && head.length >= min && head.length > buffered
        ? head.length - buffered
        : 0
    }
    // Nothing queued (the reader is between two reads): in a run of equal records, expect one more.
    const expected = this.#lastLength
    return this.#steady && expected >= min && this.#ended === undefined ? expected - (buffered % expected) : 0
  }

  /** Queues a read that could not complete at once; it may still fail at once (max length, ended). */
  enqueue(read: PendingRead): void {
    this.#reads.push(read)
    this.#serve()
  }

  /** Removes a queued read (timeout, abort). Returns false if it already completed. */
  remove(read: PendingRead): boolean {
    const index = this.#reads.remove(read)
    if (index < 0) return false
    // The next read may be satisfiable by bytes the removed one was waiting past.
    if (index === 0) this.#serve()
    else this.#checkIdle()
    return true
  }

  /**
   * Queues a barrier: resolves once every read queued before it has completed; reads queued after it
   * wait until `lift()`. startTLS uses it so no later read sees handshake bytes.
   */
  barrier(): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    this.enqueue({
      kind: 'barrier',
      length: 0,
      delimiter: undefined,
      maxLength: 0,
      tag: undefined,
      resolve: () => resolve(),
      reject,
      cleanup: undefined,
      scanned: 0,
      next: undefined,
    })
    return promise
  }

  /** Removes the barrier at the head and serves the reads behind it. */
  lift(): void {
    if (this.#reads.first?.kind === 'barrier') this.#reads.shift()
    this.#serve()
  }

  /** Resolves once no read is queued (close()). */
  whenIdle(): Promise<void> {
    if (this.#reads.first === undefined) return Promise.resolve()
    return new Promise((resolve) => (this.#idleWaiters ??= []).push(resolve))
  }

  /** Bytes done so far by a queued read, for timeout callbacks and errors. */
  progressOf(read: PendingRead): number {
    const buffered = this.#bytes.length
    return this.#reads.first === read
      ? Math.min(buffered, read.kind === 'length' ? read.length : buffered)
      : 0
  }

  /** A chunk arrived from the kernel. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#bytes.push(chunk)
    if (this.#reads.first !== undefined) this.#serve()
    if (!this.#paused && this.#bytes.length >= this.#highWaterMark && !this.#headWantsMore()) {
      this.#paused = true
      this.#host.pause(this.#owner)
    }
  }

  /** No more bytes will come: reads that the buffer cannot satisfy fail with `reason`. */
  end(reason: WirekitError): void {
    if (this.#ended) return
    this.#ended = reason
    this.#serve()
  }

  /** Fails every queued read with `error` (destroy). Buffered bytes are dropped. */
  failAll(error: WirekitError): void {
    if (!this.#ended) this.#ended = error
    const reads = this.#reads.drain()
    this.#bytes.clear()
    for (const read of reads) {
      read.cleanup?.()
      read.reject(error)
    }
    this.#checkIdle()
  }

  /** Hands back every unread byte and empties the buffer (startTLS: these bytes belong to the handshake). */
  drainBuffered(): Buffer | undefined {
    return this.#bytes.length === 0 ? undefined : this.#bytes.takeAll()
  }

  /** The error a new read should fail with right away, or undefined. */
  endedError(): WirekitError | undefined {
    return this.#bytes.length === 0 ? this.#ended : undefined
  }

  /** Completes queued reads, in order, while the buffer holds what the head one needs. */
  #serve(): void {
    for (let read = this.#reads.first; read !== undefined; read = this.#reads.first) {
      let data: Buffer | undefined
      if (read.kind === 'barrier') {
        if (read.scanned === 0) {
          read.scanned = 1
          read.resolve(EMPTY)
        }
        break
      }
      const bytes = this.#bytes
      const buffered = bytes.length
      if (read.kind === 'length') {
        if (buffered >= read.length) {
          data = bytes.take(read.length)
          this.#steady = read.length === this.#lastLength
          this.#lastLength = read.length
        } else if (buffered > 0 && this.#ended === undefined)
          this.#host.progress(this.#owner, buffered, read.length, read.tag)
      } else if (read.kind === 'any') {
        if (buffered > 0) {
          data = buffered <= read.maxLength ? bytes.takeAll() : bytes.take(read.maxLength)
          this.#lastLength = 0
          this.#steady = false
        }
      } else {
        const end = bytes.indexAfter(read.delimiter!, read.scanned)
        if (end >= 0 && end <= read.maxLength) {
          data = bytes.take(end)
          this.#lastLength = 0
          this.#steady = false
        } else if (end > read.maxLength || (end < 0 && buffered >= read.maxLength)) {
          // No delimiter within maxLength: fail this read; the bytes stay for whoever reads next.
          this.#reads.shift()
          read.cleanup?.()
          read.reject(
            new ProtocolError(
              ErrorCodes.READ_MAX_LENGTH,
              `read({ until }) found no delimiter within maxLength ${read.maxLength} bytes`,
              { tag: read.tag, bytesDone: Math.min(buffered, read.maxLength) },
            ),
          )
          continue
        } else if (buffered > 0 && this.#ended === undefined) {
          read.scanned = Math.max(0, buffered - read.delimiter!.length + 1)
          this.#host.progress(this.#owner, buffered, Number.NaN, read.tag)
        }
      }
      if (data === undefined) {
        if (this.#ended === undefined) break
        // The stream ended before this read could complete. Its bytes stay: a later read() may take them.
        this.#reads.shift()
        read.cleanup?.()
        read.reject(this.#endError(read))
        continue
      }
      this.#reads.shift()
      read.cleanup?.()
      read.resolve(data)
      this.#host.completed(this.#owner, data, read.tag)
    }
    this.#maybeResume()
    this.#checkIdle()
  }

  #checkIdle(): void {
    const waiters = this.#idleWaiters
    if (this.#reads.first !== undefined || waiters === undefined) return
    this.#idleWaiters = undefined
    for (const wake of waiters) wake()
  }

  #endError(read: PendingRead): WirekitError {
    const reason = this.#ended!
    if (this.#bytes.length === 0 || !(reason instanceof ClosedError)) return reason
    return new ClosedError(
      reason.code,
      `${reason.message} (${this.#bytes.length} bytes of an incomplete read left)`,
      {
        cause: reason.cause,
        tag: read.tag,
        bytesDone: this.#bytes.length,
      },
    )
  }

  /** True when the head read cannot complete until more bytes arrive, so pausing would deadlock. */
  #headWantsMore(): boolean {
    const read = this.#reads.first
    if (read === undefined) return false
    if (read.kind === 'length') return read.length > this.#bytes.length
    if (read.kind === 'until') return read.maxLength > this.#bytes.length
    return this.#bytes.length === 0
  }

  #maybeResume(): void {
    if (this.#paused && (this.#bytes.length < this.#highWaterMark || this.#headWantsMore())) {
      this.#paused = false
      this.#host.resume(this.#owner)
    }
  }
}
