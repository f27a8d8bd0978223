// The unread bytes of a socket: received chunks in order, with a head index and an offset into the
// head chunk (no array shift per read). Bytes come out as views of the chunks; a copy is made only
// when a read spans two chunks that do not sit side by side in memory.

/**
 * Node's own view class (what `subarray()` builds after a species lookup). Constructing it directly
 * gives the same kind of Buffer at about half the cost, which matters at millions of small reads.
 */
const FastBuffer = (
  Buffer as unknown as {
    [Symbol.species]: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer
  }
)[Symbol.species]

/** A Buffer viewing `length` bytes of `buffer` from `byteOffset` (no copy). */
export const view: (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer =
  typeof FastBuffer === 'function'
    ? (buffer, byteOffset, length) => new FastBuffer(buffer, byteOffset, length)
    : (buffer, byteOffset, length) => Buffer.from(buffer, byteOffset, length)

const EMPTY = Buffer.alloc(0)

/** Chunks kept beyond this many consumed slots are compacted away. */
const COMPACT_AFTER = 64

/**
 *   chunks: [ consumed… | head (from offset) | … | last ]   length = unread bytes of all of them
 */
export class ChunkList {
  #chunks: Buffer[] = []
  #head = 0
  #offset = 0
  #length = 0

  /** Unread bytes. */
  get length(): number {
    return this.#length
  }

  /**
   * Appends a chunk. One that continues the last chunk in the same memory (consecutive kernel reads
   * into one destination) is merged with it, so a read spanning both is still a view, not a copy.
   */
  push(chunk: Buffer): void {
    const chunks = this.#chunks
    const lastIndex = chunks.length - 1
    const last = lastIndex >= this.#head ? chunks[lastIndex]! : undefined
    if (
      last !== undefined &&
      last.buffer === chunk.buffer &&
      last.byteOffset + last.length === chunk.byteOffset
    ) {
      chunks[lastIndex] = view(last.buffer, last.byteOffset, last.length + chunk.length)
    } else chunks.push(chunk)
    this.#length += chunk.length
  }

  /** The next `n` unread bytes (1 ≤ n ≤ length): a view when they are contiguous, else one copy. */
  take(n: number): Buffer {
    const chunk = this.#chunks[this.#head]!
    const start = this.#offset
    const end = start + n
    if (end < chunk.length) {
      this.#offset = end
      this.#length -= n
      return view(chunk.buffer, chunk.byteOffset + start, n)
    }
    if (end === chunk.length) {
      this.#next()
      this.#length -= n
      return start === 0 ? chunk : view(chunk.buffer, chunk.byteOffset + start, n)
    }
    return this.#gather(n)
  }

  /** Every unread byte: the head chunk itself when it is the only one, else one copy. */
  takeAll(): Buffer {
    const n = this.#length
    if (n === 0) return EMPTY
    const chunk = this.#chunks[this.#head]!
    if (chunk.length - this.#offset === n) return this.take(n)
    return this.#gather(n)
  }

  /** Drops everything. */
  clear(): void {
    this.#chunks = []
    this.#head = 0
    this.#offset = 0
    this.#length = 0
  }

  /**
   * Length of the bytes up to and including the first `delimiter` that starts at or after unread
   * position `from`, or -1. Searches chunk by chunk; a delimiter split across chunks is matched byte
   * by byte.
   */
  indexAfter(delimiter: Buffer, from: number): number {
    const chunks = this.#chunks
    const head = this.#head
    if (head >= chunks.length) return -1
    // Common case: one chunk, searched natively.
    if (chunks.length - head === 1) {
      const at = chunks[head]!.indexOf(delimiter, this.#offset + from)
      return at < 0 ? -1 : at - this.#offset + delimiter.length
    }
    let base = 0 // unread position of the current chunk's first unread byte
    for (let i = head; i < chunks.length; i++) {
      const chunk = chunks[i]!
      const start = i === head ? this.#offset : 0
      const size = chunk.length - start
      if (base + size > from) {
        const searchFrom = start + Math.max(0, from - base)
        const at = chunk.indexOf(delimiter, searchFrom)
        if (at >= 0) return base + (at - start) + delimiter.length
        // A match beginning in this chunk's tail and ending in later chunks.
        const tailStart = Math.max(searchFrom, chunk.length - delimiter.length + 1)
        for (let p = tailStart; p < chunk.length; p++) {
          if (this.#matchesAt(delimiter, i, p)) return base + (p - start) + delimiter.length
        }
      }
      base += size
    }
    return -1
  }

  /** Moves past the head chunk, compacting the array once enough slots are consumed. */
  #next(): void {
    this.#offset = 0
    const head = ++this.#head
    const chunks = this.#chunks
    if (head === chunks.length) {
      chunks.length = 0
      this.#head = 0
    } else if (head >= COMPACT_AFTER) {
      chunks.splice(0, head)
      this.#head = 0
    }
  }

  /** Copies the next `n` bytes, which span chunks, into one new buffer. */
  #gather(n: number): Buffer {
    const data = Buffer.allocUnsafe(n)
    let copied = 0
    while (copied < n) {
      const chunk = this.#chunks[this.#head]!
      const want = n - copied
      const have = chunk.length - this.#offset
      if (have <= want) {
        chunk.copy(data, copied, this.#offset)
        copied += have
        this.#next()
      } else {
        chunk.copy(data, copied, this.#offset, this.#offset + want)
        copied += want
        this.#offset += want
      }
    }
    this.#length -= n
    return data
  }

  /** True when `delimiter` starts at byte `p` of chunk `i` and continues into the following chunks. */
  #matchesAt(delimiter: Buffer, i: number, p: number): boolean {
    const chunks = this.#chunks
    let chunkIndex = i
    let chunk = chunks[i]!
    let pos = p
    for (let k = 0; k < delimiter.length; k++) {
      while (pos >= chunk.length) {
        chunkIndex++
        if (chunkIndex >= chunks.length) return false
        chunk = chunks[chunkIndex]!
        pos = 0
      }
      if (chunk[pos] !== delimiter[k]) return false
      pos++
    }
    return true
  }
}
