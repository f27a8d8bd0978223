// The write side of an AsyncSocket: writes complete in call order and resolve when the kernel has
// taken their bytes. At most `highWaterMark` bytes sit in the stream's user-space buffer; later writes
// wait here (no copy), and at most `maxQueued` bytes may wait, so memory stays bounded.
import { BackpressureError, ErrorCodes, type WirekitError } from '../errors.ts'

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
}

/** What the queue needs from its socket. */
export type WriteQueueHost = {
  /** Hands bytes to the stream; `done` runs once the kernel has them (or with the error). */
  send(data: Uint8Array, done: (error?: Error | null) => void): void
  /** Bytes the stream holds in user space, not yet taken by the kernel. */
  writableLength(): number
  /** A write completed. */
  completed(write: PendingWrite): void
  /** A write handed to the stream failed: the connection is broken. */
  failed(error: Error): void
}

export class WriteQueue {
  readonly #host: WriteQueueHost
  readonly #highWaterMark: number
  readonly #maxQueued: number
  #waiting: PendingWrite[] = []
  #waitingBytes = 0
  #inFlight: PendingWrite[] = []
  /** Closed until the connection (and TLS, and verification) is up; startTLS closes it again. */
  #open = false
  #failed: WirekitError | undefined
  #idleWaiters: (() => void)[] = []

  constructor(host: WriteQueueHost, highWaterMark: number, maxQueued: number) {
    this.#host = host
    this.#highWaterMark = highWaterMark
    this.#maxQueued = maxQueued
  }

  /** Writes not yet completed (waiting or in the stream). */
  get pending(): number {
    return this.#waiting.length + this.#inFlight.length
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
    if (this.#open && this.#waiting.length === 0 && this.#host.writableLength() < this.#highWaterMark) {
      this.#send(write)
      return
    }
    if (this.#waitingBytes + write.data.length > this.#maxQueued && this.#waiting.length > 0) {
      throw new BackpressureError(
        ErrorCodes.BACKPRESSURE,
        `write queue full: ${this.#waitingBytes} bytes already wait (maxWriteQueue ${this.#maxQueued})`,
        { tag: write.tag },
      )
    }
    this.#waiting.push(write)
    this.#waitingBytes += write.data.length
  }

  /** Withdraws a write that still waits here (timeout, abort). False once it is in the stream. */
  withdraw(write: PendingWrite): boolean {
    if (write.sent) return false
    const index = this.#waiting.indexOf(write)
    if (index < 0) return false
    this.#waiting.splice(index, 1)
    this.#waitingBytes -= write.data.length
    this.#checkIdle()
    return true
  }

  /** Hands waiting writes to the stream while it is under the high-water mark (on open and on 'drain'). */
  flush(): void {
    while (this.#open && this.#waiting.length > 0 && this.#host.writableLength() < this.#highWaterMark) {
      const write = this.#waiting[0]!
      if (write.barrier) {
        if (this.#inFlight.length > 0) return
        this.#waiting.shift()
        this.#open = false
        write.settled = true
        write.resolve()
        this.#checkIdle()
        return
      }
      this.#waiting.shift()
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
    this.#waiting.push({
      data: new Uint8Array(0),
      tag: undefined,
      resolve,
      reject,
      cleanup: undefined,
      sent: false,
      settled: false,
      barrier: true,
    })
    this.flush()
    return promise
  }

  /** Resolves once nothing waits and nothing is in flight (end(), startTLS). */
  whenIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Rejects every write not yet completed. */
  failAll(error: WirekitError): void {
    this.#failed ??= error
    this.#open = false
    const writes = [...this.#inFlight, ...this.#waiting]
    this.#inFlight = []
    this.#waiting = []
    this.#waitingBytes = 0
    for (const write of writes) this.#settle(write, error)
    this.#checkIdle()
  }

  #send(write: PendingWrite): void {
    write.sent = true
    this.#inFlight.push(write)
    this.#host.send(write.data, (error) => {
      if (write.settled) return
      if (error) {
        this.#host.failed(error)
        return
      }
      // Stream callbacks run in write order, so this write is the head of #inFlight.
      const index = this.#inFlight.indexOf(write)
      if (index >= 0) this.#inFlight.splice(index, 1)
      write.settled = true
      write.cleanup?.()
      write.resolve()
      this.#host.completed(write)
      if (this.#inFlight.length === 0 && this.#waiting[0]?.barrier) this.flush()
      this.#checkIdle()
    })
  }

  #settle(write: PendingWrite, error: WirekitError): void {
    if (write.settled) return
    write.settled = true
    write.cleanup?.()
    write.reject(error)
  }

  #checkIdle(): void {
    if (this.pending > 0 || this.#idleWaiters.length === 0) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const wake of waiters) wake()
  }
}
