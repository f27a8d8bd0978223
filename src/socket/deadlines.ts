// Per-operation deadlines for AsyncSocket: a queued read's or write's timeout (which the
// onReadTimeout/onWriteTimeout hooks may extend) and its AbortSignal. Only reads and writes that
// pass `timeout` or `signal` come here, so plain reads and writes pay nothing for it.
import { ErrorCodes, TimeoutError, type WirekitError } from '../errors.ts'
import { startTimer } from '../util/timeout.ts'
import type { ReadOptions, ReadTimeoutHandler, WriteOptions, WriteTimeoutHandler } from './options.ts'
import type { PendingRead, ReadQueue } from './read-queue.ts'
import { abortError } from './socket-errors.ts'
import type { PendingWrite, WriteQueue } from './write-queue.ts'

/** The socket as a read deadline sees it: the hook is read when the timer fires, as users may change it. */
type ReadOwner = { readonly onReadTimeout: ReadTimeoutHandler | undefined }
/** The socket as a write deadline sees it. */
type WriteOwner = {
  readonly onWriteTimeout: WriteTimeoutHandler | undefined
  destroy(error: WirekitError): void
}

function noop(): void {}

/** Arms `read`'s timeout and abort signal; on either it leaves the queue and rejects. */
export function armRead(
  read: PendingRead,
  options: ReadOptions,
  reads: ReadQueue,
  owner: ReadOwner,
  where: string,
): void {
  const { timeout, signal } = options
  const started = performance.now()
  let cancelTimer = noop
  const fire = (): void => {
    const elapsed = performance.now() - started
    const done = reads.progressOf(read)
    const extra = owner.onReadTimeout?.(read.tag, elapsed, done)
    if (typeof extra === 'number' && extra > 0) {
      cancelTimer = startTimer(extra, fire)
      return
    }
    if (!reads.remove(read)) return
    cleanup()
    read.reject(
      new TimeoutError(
        ErrorCodes.READ_TIMEOUT,
        `read from ${where} timed out after ${Math.round(elapsed)} ms`,
        {
          tag: read.tag,
          bytesDone: done,
        },
      ),
    )
  }
  const onAbort = (): void => {
    if (!reads.remove(read)) return
    cleanup()
    read.reject(abortError(where, 'read', read.tag, signal!))
  }
  const cleanup = (): void => {
    cancelTimer()
    signal?.removeEventListener('abort', onAbort)
  }
  if (timeout !== undefined) cancelTimer = startTimer(timeout, fire)
  signal?.addEventListener('abort', onAbort, { once: true })
  read.cleanup = cleanup
}

/** Arms `write`'s timeout and abort signal. */
export function armWrite(
  write: PendingWrite,
  options: WriteOptions,
  writes: WriteQueue,
  owner: WriteOwner,
  where: string,
): void {
  const { timeout, signal } = options
  const started = performance.now()
  let cancelTimer = noop
  // A write still waiting here is withdrawn alone; one already in the stream cannot be taken back,
  // so the connection closes with the error (its peer would otherwise see a partial message).
  const failWith = (error: WirekitError): void => {
    if (write.settled) return
    if (writes.withdraw(write)) {
      write.settled = true
      cleanup()
      write.reject(error)
    } else owner.destroy(error)
  }
  const fire = (): void => {
    const elapsed = performance.now() - started
    const extra = owner.onWriteTimeout?.(write.tag, elapsed, 0)
    if (typeof extra === 'number' && extra > 0) {
      cancelTimer = startTimer(extra, fire)
      return
    }
    failWith(
      new TimeoutError(
        ErrorCodes.WRITE_TIMEOUT,
        `write to ${where} timed out after ${Math.round(elapsed)} ms`,
        {
          tag: write.tag,
          bytesDone: 0,
        },
      ),
    )
  }
  const onAbort = (): void => failWith(abortError(where, 'write', write.tag, signal!))
  const cleanup = (): void => {
    cancelTimer()
    signal?.removeEventListener('abort', onAbort)
  }
  if (timeout !== undefined) cancelTimer = startTimer(timeout, fire)
  signal?.addEventListener('abort', onAbort, { once: true })
  write.cleanup = cleanup
}
