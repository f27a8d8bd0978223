// Throttled progress: counts bytes on every chunk but calls back at most once per interval, plus once at the end,
// so a 1 GB download at 64 KiB per chunk makes a few hundred calls, not sixteen thousand.
import type { HttpProgress } from './types.ts'

export class ProgressReporter {
  readonly #callback: (progress: HttpProgress) => void
  readonly #interval: number
  #done: number
  #total: number | undefined
  #last = 0
  #finished = false

  constructor(
    callback: (progress: HttpProgress) => void,
    total: number | undefined,
    interval: number,
    done = 0,
  ) {
    this.#callback = callback
    this.#total = total
    this.#interval = interval
    this.#done = done
  }

  get done(): number {
    return this.#done
  }

  set total(total: number | undefined) {
    this.#total = total
  }

  /** Counts `bytes` more; reports when the interval has passed since the last report. */
  add(bytes: number): void {
    this.#done += bytes
    const now = performance.now()
    if (now - this.#last >= this.#interval) {
      this.#last = now
      this.#emit()
    }
  }

  /** Reports the final figures once. */
  finish(): void {
    if (this.#finished) return
    this.#finished = true
    this.#emit()
  }

  #emit(): void {
    // A callback that throws must not break the transfer: report it on the next tick instead.
    try {
      this.#callback({ done: this.#done, total: this.#total })
    } catch (error) {
      queueMicrotask(() => {
        throw error
      })
    }
  }
}

/** Wraps a body so every chunk handed to the connection is counted. */
export async function* countChunks(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  reporter: ProgressReporter,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    reporter.add(chunk.byteLength)
    yield chunk
  }
  reporter.finish()
}

const SLICE = 64 * 1024

/** Splits a buffer into 64 KiB views so an in-memory upload still reports progress as it goes. */
export function* slices(buffer: Uint8Array): Generator<Uint8Array> {
  for (let offset = 0; offset < buffer.byteLength; offset += SLICE) {
    yield buffer.subarray(offset, Math.min(offset + SLICE, buffer.byteLength))
  }
}
