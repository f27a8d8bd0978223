// The read side of an AsyncSocket: received chunks kept as a list with an offset into the first one,
// and a queue of reads served strictly in call order. Bytes are sliced out of the chunks, copied only
// when a read spans chunks, so no byte is lost or reordered when reads of different kinds are mixed.
import { ClosedError, ErrorCodes, ProtocolError, type WirekitError } from '../errors.ts'

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
}

const EMPTY = Buffer.alloc(0)

/** Callbacks from the queue to its socket. */
export type ReadQueueHost = {
  /** A read completed with `data`. */
  completed(data: Buffer, tag: unknown): void
  /** A read that needs more bytes has `done` of `total` (NaN for until reads). */
  progress(done: number, total: number, tag: unknown): void
  /** Stop pulling bytes from the kernel: the buffer is past its high-water mark. */
  pause(): void
  /** Pull again. */
  resume(): void
}

/**
 * The receive buffer and the read queue.
 *
 *   chunks: [ c0 (from offset) | c1 | c2 ... ]   buffered = unread bytes in all of them
 *   reads:  [ r0 (head) | r1 | ... ]             served in order while bytes suffice
 */
export class ReadQueue {
  readonly #host: ReadQueueHost
  readonly #highWaterMark: number
  #chunks: Buffer[] = []
  #offset = 0
  #buffered = 0
  #reads: PendingRead[] = []
  #paused = false
  /** Set once no more bytes will arrive (peer FIN or close): the reason reads fail from now on. */
  #ended: WirekitError | undefined
  #idleWaiters: (() => void)[] = []

  constructor(host: ReadQueueHost, highWaterMark: number) {
    this.#host = host
    this.#highWaterMark = highWaterMark
  }

  /** Unread bytes held in user space. */
  get buffered(): number {
    return this.#buffered
  }

  /** Reads waiting for bytes. */
  get pending(): number {
    return this.#reads.length
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
    if (this.#reads.length > 0 || this.#buffered === 0) return undefined
    let data: Buffer | undefined
    if (kind === 'any') data = this.#buffered <= maxLength ? this.#takeAll() : this.#take(maxLength)
    else if (kind === 'length') {
      if (length <= this.#buffered) data = this.#take(length)
    } else {
      const end = this.#findDelimiter(delimiter!, 0)
      if (end >= 0 && end <= maxLength) data = this.#take(end)
    }
    if (this.#paused && data !== undefined) this.#maybeResume()
    return data
  }

  /** Queues a read that could not complete at once; it may still fail at once (max length, ended). */
  enqueue(read: PendingRead): void {
    this.#reads.push(read)
    this.#serve()
  }

  /** Removes a queued read (timeout, abort). Returns false if it already completed. */
  remove(read: PendingRead): boolean {
    const index = this.#reads.indexOf(read)
    if (index < 0) return false
    this.#reads.splice(index, 1)
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
    })
    return promise
  }

  /** Removes the barrier at the head and serves the reads behind it. */
  lift(): void {
    if (this.#reads[0]?.kind === 'barrier') this.#reads.shift()
    this.#serve()
  }

  /** Resolves once no read is queued (close()). */
  whenIdle(): Promise<void> {
    if (this.#reads.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Bytes done so far by a queued read, for timeout callbacks and errors. */
  progressOf(read: PendingRead): number {
    return this.#reads[0] === read
      ? Math.min(this.#buffered, read.kind === 'length' ? read.length : this.#buffered)
      : 0
  }

  /** A chunk arrived from the kernel. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    if (this.#reads.length > 0) this.#serve()
    if (!this.#paused && this.#buffered >= this.#highWaterMark && !this.#headWantsMore()) {
      this.#paused = true
      this.#host.pause()
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
    const reads = this.#reads
    this.#reads = []
    this.#chunks = []
    this.#offset = 0
    this.#buffered = 0
    for (const read of reads) {
      read.cleanup?.()
      read.reject(error)
    }
    this.#checkIdle()
  }

  /** Hands back every unread byte and empties the buffer (startTLS: these bytes belong to the handshake). */
  drainBuffered(): Buffer | undefined {
    return this.#buffered === 0 ? undefined : this.#takeAll()
  }

  /** The error a new read should fail with right away, or undefined. */
  endedError(): WirekitError | undefined {
    return this.#buffered === 0 ? this.#ended : undefined
  }

  /** Completes queued reads, in order, while the buffer holds what the head one needs. */
  #serve(): void {
    while (this.#reads.length > 0) {
      const read = this.#reads[0]!
      let data: Buffer | undefined
      if (read.kind === 'barrier') {
        if (read.scanned === 0) {
          read.scanned = 1
          read.resolve(EMPTY)
        }
        break
      }
      if (read.kind === 'any') {
        if (this.#buffered > 0)
          data = this.#buffered <= read.maxLength ? this.#takeAll() : this.#take(read.maxLength)
      } else if (read.kind === 'length') {
        if (this.#buffered >= read.length) data = this.#take(read.length)
        else if (this.#buffered > 0 && this.#ended === undefined)
          this.#host.progress(this.#buffered, read.length, read.tag)
      } else {
        const end = this.#findDelimiter(read.delimiter!, read.scanned)
        if (end >= 0 && end <= read.maxLength) data = this.#take(end)
        else if (end > read.maxLength || (end < 0 && this.#buffered >= read.maxLength)) {
          // No delimiter within maxLength: fail this read; the bytes stay for whoever reads next.
          this.#reads.shift()
          read.cleanup?.()
          read.reject(
            new ProtocolError(
              ErrorCodes.READ_MAX_LENGTH,
              `read({ until }) found no delimiter within maxLength ${read.maxLength} bytes`,
              { tag: read.tag, bytesDone: Math.min(this.#buffered, read.maxLength) },
            ),
          )
          continue
        } else if (this.#buffered > 0 && this.#ended === undefined) {
          read.scanned = Math.max(0, this.#buffered - read.delimiter!.length + 1)
          this.#host.progress(this.#buffered, Number.NaN, read.tag)
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
      this.#host.completed(data, read.tag)
    }
    this.#maybeResume()
    this.#checkIdle()
  }

  #checkIdle(): void {
    if (this.#reads.length > 0 || this.#idleWaiters.length === 0) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const wake of waiters) wake()
  }

  #endError(read: PendingRead): WirekitError {
    const reason = this.#ended!
    if (this.#buffered === 0 || !(reason instanceof ClosedError)) return reason
    return new ClosedError(
      reason.code,
      `${reason.message} (${this.#buffered} bytes of an incomplete read left)`,
      {
        cause: reason.cause,
        tag: read.tag,
        bytesDone: this.#buffered,
      },
    )
  }

  /** True when the head read cannot complete until more bytes arrive, so pausing would deadlock. */
  #headWantsMore(): boolean {
    const read = this.#reads[0]
    if (read === undefined) return false
    if (read.kind === 'length') return read.length > this.#buffered
    if (read.kind === 'until') return read.maxLength > this.#buffered
    return this.#buffered === 0
  }

  #maybeResume(): void {
    if (this.#paused && (this.#buffered < this.#highWaterMark || this.#headWantsMore())) {
      this.#paused = false
      this.#host.resume()
    }
  }

  /** Every buffered byte: the chunk itself when there is one (no copy), one concat when there are more. */
  #takeAll(): Buffer {
    const chunks = this.#chunks
    let data: Buffer
    if (chunks.length === 1) {
      const chunk = chunks[0]!
      data = this.#offset === 0 ? chunk : chunk.subarray(this.#offset)
    } else {
      if (this.#offset > 0) chunks[0] = chunks[0]!.subarray(this.#offset)
      data = Buffer.concat(chunks, this.#buffered)
    }
    this.#chunks = []
    this.#offset = 0
    this.#buffered = 0
    return data
  }

  /** The next `n` bytes (n ≤ buffered): a slice when they sit in the first chunk, else one copy. */
  #take(n: number): Buffer {
    const chunks = this.#chunks
    const first = chunks[0]!
    const available = first.length - this.#offset
    if (n <= available) {
      const data = first.subarray(this.#offset, this.#offset + n)
      if (n === available) {
        chunks.shift()
        this.#offset = 0
      } else this.#offset += n
      this.#buffered -= n
      return data
    }
    if (n === this.#buffered) return this.#takeAll()
    const data = Buffer.allocUnsafe(n)
    let copied = 0
    while (copied < n) {
      const chunk = chunks[0]!
      const want = n - copied
      const have = chunk.length - this.#offset
      if (have <= want) {
        chunk.copy(data, copied, this.#offset)
        copied += have
        chunks.shift()
        this.#offset = 0
      } else {
        chunk.copy(data, copied, this.#offset, this.#offset + want)
        copied += want
        this.#offset += want
      }
    }
    this.#buffered -= n
    return data
  }

  /**
   * Length of the bytes up to and including the first `delimiter` at or after unread position `from`,
   * or -1. Searches chunk by chunk; a delimiter split across chunks is matched byte by byte.
   */
  #findDelimiter(delimiter: Buffer, from: number): number {
    const chunks = this.#chunks
    const first = chunks[0]
    if (first === undefined) return -1
    // Common case: one chunk, search it natively.
    if (chunks.length === 1) {
      const at = first.indexOf(delimiter, this.#offset + from)
      return at < 0 ? -1 : at - this.#offset + delimiter.length
    }
    let base = 0 // unread position of the current chunk's first unread byte
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]!
      const start = i === 0 ? this.#offset : 0
      const size = chunk.length - start
      if (base + size > from) {
        const at = chunk.indexOf(delimiter, start + Math.max(0, from - base))
        if (at >= 0) return base + (at - start) + delimiter.length
        // A match beginning in this chunk's tail and ending in later chunks.
        const tailStart = Math.max(
          start + Math.max(0, from - base),
          chunk.length - delimiter.length + 1,
          start,
        )
        for (let p = tailStart; p < chunk.length; p++) {
          if (this.#matchesAt(delimiter, i, p)) return base + (p - start) + delimiter.length
        }
      }
      base += size
    }
    return -1
  }

  /** True when `delimiter` starts at byte `p` of chunk `i` and continues into the following chunks. */
  #matchesAt(delimiter: Buffer, i: number, p: number): boolean {
    let chunkIndex = i
    let chunk = this.#chunks[i]!
    let pos = p
    for (let k = 0; k < delimiter.length; k++) {
      while (pos >= chunk.length) {
        chunkIndex++
        if (chunkIndex >= this.#chunks.length) return false
        chunk = this.#chunks[chunkIndex]!
        pos = 0
      }
      if (chunk[pos] !== delimiter[k]) return false
      pos++
    }
    return true
  }
}
