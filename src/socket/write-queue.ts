// The write side of an AsyncSocket: writes complete in call order and resolve when the kernel has
// taken their bytes. At most `highWaterMark` bytes sit in the stream's user-space buffer; later writes
// wait here (no copy), and at most `maxQueued` bytes may wait, so memory stays bounded.
import { BackpressureError, ErrorCodes, type WirekitError } from '../errors.ts'
import { Fifo } from './fifo.ts'

/** One write, waiting here or handed to the stream. */
export type PendingWrite = {
  data: Uint8Array
  tag: unknown
  resolve: () => void
  reject: (error: WirekitError) => void
  /** Cancels the timeout and the abort listener; set by the socket. */
  cleanup: (() => void) | undefined
  /** True once handed to the stream: from then on it cannot be withdrawn. */
  sent: boolean
  settled: boolean
  /** A barrier (startTLS) carries no bytes: it closes the gate once every write before it completed. */
  barrier?: boolean
  /** The write queued after this one (owned by the queue). */
  next: PendingWrite | undefined
}

/**
 * What the queue needs from its socket, which it gets as `owner`: one host object serves every
 * socket, so an idle socket carries no closures for them.
 */
export type WriteQueueHost<Owner> = {
  /** Hands bytes to the stream; `done` (when given) runs once the kernel has them (or with the error). */
  send(owner: Owner, data: Uint8Array, done?: (error?: Error | null) => void): void
  /** Whether the stream takes writes: not ended (net ends it at the peer's FIN), destroyed or errored. */
  writable(owner: Owner): boolean
  /** Bytes the stream holds in user space, not yet taken by the kernel. */
  writableLength(owner: Owner): number
  /** A write completed. */
  completed(owner: Owner, write: PendingWrite): void
  /** A write handed to the stream failed: the connection is broken. */
  failed(owner: Owner, error: Error): void
}

export class WriteQueue<Owner = unknown> {
  readonly #owner: Owner
  readonly #host: WriteQueueHost<Owner>
  readonly #highWaterMark: number
  readonly #maxQueued: number
  /** Writes past the high-water mark; made when the first one has to wait. */
  #waiting: Fifo<PendingWrite> | undefined
  #waitingBytes = 0
  readonly #inFlight = new Fifo<PendingWrite>()
  /** Closed until the connection (and TLS, and verification) is up; startTLS closes it again. */
  #open = false
  #failed: WirekitError | undefined
  /** The stream's write callback, shared by every write of this queue (see #send). */
  #onWritten: ((error?: Error | null) => void) | undefined
  /** Wakers of whenIdle(), created on first use (end() and startTLS only). */
  #idleWaiters: (() => void)[] | undefined

  constructor(owner: Owner, host: WriteQueueHost<Owner>, highWaterMark: number, maxQueued: number) {
    this.#owner = owner
    this.#host = host
    this.#highWaterMark = highWaterMark
    this.#maxQueued = maxQueued
  }

  /** Writes not yet completed (waiting or in the stream). */
  get pending(): number {
    return (this.#waiting?.size ?? 0) + this.#inFlight.size
  }

  /** Bytes waiting here, not yet handed to the stream. */
  get waitingBytes(): number {
    return this.#waitingBytes
  }

  /** Starts handing writes to the stream. */
  open(): void {
    this.#open = true
    this.flush()
  }

  /** Holds new writes back (startTLS); writes already in the stream still complete. */
  close(): void {
    this.#open = false
  }

  /** Queues a write; throws BackpressureError (synchronously, for the caller to reject) when full. */
  add(write: PendingWrite): void {
    if (this.#streamTakes()) {
      this.#send(write)
      return
    }
    if (this.#waitingBytes + write.data.length > this.#maxQueued && this.#waiting?.first !== undefined) {
      throw new BackpressureError(
        ErrorCodes.BACKPRESSURE,
        `write queue full: ${this.#waitingBytes} bytes already wait (maxWriteQueue ${this.#maxQueued})`,
        { tag: write.tag },
      )
    }
    ;(this.#waiting ??= new Fifo()).push(write)
    this.#waitingBytes += write.data.length
  }

  /**
   * A write no one needs to hear about by callback (send() on a plaintext socket with no 'write'
   * listener): handed to the stream at once with no write callback, when nothing waits or is in
   * flight before it and the stream is under the high-water mark. A callback costs the stream a process.nextTick per write, which in a fan-out (one write per player
   * per frame) costs more CPU than the rest of the write above the syscall (bench/rtmp-floor.ts).
   * When the stream then holds nothing, the kernel took every byte and the write completes now;
   * otherwise an empty write with the callback follows it into the stream, and completes with it.
   * (With writes in flight it is not taken: it would complete before them.)
   * @returns false when the write has to go through add().
   */
  sendNow(write: PendingWrite): boolean {
    const owner = this.#owner
    if (this.#inFlight.first !== undefined || !this.#streamTakes() || !this.#host.writable(owner))
      return false
    this.#host.send(owner, write.data)
    write.sent = true
    // The stream failed it at once (EPIPE, a reset): no callback will say so, but the stream's error
    // closes the socket, which fails every write in flight with the error it maps.
    if (!this.#host.writable(owner)) this.#inFlight.push(write)
    else if (this.#host.writableLength(owner) === 0) this.#complete(write)
    else {
      this.#inFlight.push(write)
      this.#host.send(owner, EMPTY, (this.#onWritten ??= (error) => this.#written(error)))
    }
    return true
  }

  /** Withdraws a write that still waits here (timeout, abort). False once it is in the stream. */
  withdraw(write: PendingWrite): boolean {
    if (write.sent) return false
    if (this.#waiting === undefined || this.#waiting.remove(write) < 0) return false
    this.#waitingBytes -= write.data.length
    this.#checkIdle()
    return true
  }

  /** Hands waiting writes to the stream while it is under the high-water mark (on open and on 'drain'). */
  flush(): void {
    const waiting = this.#waiting
    if (waiting === undefined) return
    while (
      this.#open &&
      waiting.first !== undefined &&
      this.#host.writableLength(this.#owner) < this.#highWaterMark
    ) {
      const write = waiting.first
      if (write.barrier) {
        if (this.#inFlight.first !== undefined) return
        waiting.shift()
        this.#open = false
        write.settled = true
        write.resolve()
        this.#checkIdle()
        return
      }
      waiting.shift()
      this.#waitingBytes -= write.data.length
      this.#send(write)
    }
  }

  /**
   * Resolves once every write queued before it has reached the kernel, and closes the gate: later
   * writes wait for `open()` (startTLS sends them encrypted).
   */
  barrier(): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    ;(this.#waiting ??= new Fifo()).push({
      data: new Uint8Array(0),
      tag: undefined,
      resolve,
      reject,
      cleanup: undefined,
      sent: false,
      settled: false,
      barrier: true,
      next: undefined,
    })
    this.flush()
    return promise
  }

  /** Resolves once nothing waits and nothing is in flight (end(), startTLS). */
  whenIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve()
    return new Promise((resolve) => (this.#idleWaiters ??= []).push(resolve))
  }

  /** Rejects every write not yet completed. */
  failAll(error: WirekitError): void {
    this.#failed ??= error
    this.#open = false
    const writes = [...this.#inFlight.drain(), ...(this.#waiting?.drain() ?? [])]
    this.#waitingBytes = 0
    for (const write of writes) this.#settle(write, error)
    this.#checkIdle()
  }

  #send(write: PendingWrite): void {
    write.sent = true
    this.#inFlight.push(write)
    // One callback per queue, made on the first write, instead of a closure per write: stream
    // callbacks run in write order, so the write that completed is always the head of #inFlight.
    this.#host.send(this.#owner, write.data, (this.#onWritten ??= (error) => this.#written(error)))
  }

  /** The stream took (or failed) the oldest write in flight. */
  #written(error: Error | null | undefined): void {
    const write = this.#inFlight.first
    // Nothing in flight: failAll() already settled every write (the stream reports the rest failing).
    if (write === undefined || write.settled) return
    if (error) {
      this.#host.failed(this.#owner, error)
      return
    }
    this.#inFlight.shift()
    this.#complete(write)
    if (this.#inFlight.first === undefined && this.#waiting?.first?.barrier) this.flush()
    this.#checkIdle()
  }

  /** Whether a write may go to the stream now: the gate is open, nothing waits, the stream is under the mark. */
  #streamTakes(): boolean {
    return (
      this.#open &&
      this.#waiting?.first === undefined &&
      this.#host.writableLength(this.#owner) < this.#highWaterMark
    )
  }

  #complete(write: PendingWrite): void {
    write.settled = true
    write.cleanup?.()
    write.resolve()
    this.#host.completed(this.#owner, write)
  }

  #settle(write: PendingWrite, error: WirekitError): void {
    if (write.settled) return
    write.settled = true
    write.cleanup?.()
    write.reject(error)
  }

  #checkIdle(): void {
    const waiters = this.#idleWaiters
    if (this.pending > 0 || waiters === undefined) return
    this.#idleWaiters = undefined
    for (const wake of waiters) wake()
  }
}

const EMPTY = new Uint8Array(0)
