// The outbox: reliable messages in sequence order, kept until the peer acknowledges them.
// It is also the send queue: a cursor marks the next message to write, and a resume rewinds the
// cursor so everything unacknowledged goes out again. Bounded by message count and bytes.

import { type Format, Kind } from '../wire/kinds.ts'
import type { Body, Payloads } from '../wire/payloads.ts'

/** One reliable message waiting for its acknowledgement. */
export type OutboxEntry = {
  seq: number
  kind: Kind
  /** Envelope flags (format, SEQ, ID, NAME); the ack field is never stored. */
  flags: number
  /** Request id (requests and responses), else 0. */
  id: number
  /** Event or method name, '' when none. */
  name: string
  format: Format
  body: Body
  bodyBytes: number
  /** Envelope bytes without the ack field: what this entry costs in the outbox and on the wire. */
  size: number
  /** Settled when acknowledged (emit) or when the session ends without it. */
  settle: PromiseWithResolvers<void> | undefined
}

/** An entry as stores keep it (no promise). */
export type StoredEntry = Omit<OutboxEntry, 'settle'>

export type OutboxLimits = {
  /** Most unacknowledged messages held. @default 10_000 */
  maxMessages?: number
  /** Most unacknowledged bytes held (envelopes). @default 8 MiB */
  maxBytes?: number
}

/** A message that was not acknowledged when its session ended. */
export type UnacknowledgedMessage = { kind: 'event' | 'request'; name: string; data: unknown }

const COMPACT_AT = 1024
/**
 * The entries of every empty outbox (never written to: push replaces it), so an idle session keeps no
 * array of its own.
 */
const NONE: OutboxEntry[] = []

export class Outbox {
  readonly maxMessages: number
  readonly maxBytes: number
  #entries: OutboxEntry[] = NONE
  #head = 0
  #cursor = 0
  #bytes = 0
  /** Highest sequence number ever handed to a transport. */
  sentUpTo = 0

  constructor(limits: OutboxLimits = {}) {
    this.maxMessages = limits.maxMessages ?? 10_000
    this.maxBytes = limits.maxBytes ?? 8 * 1024 * 1024
  }

  get count(): number {
    return this.#entries.length - this.#head
  }

  get bytes(): number {
    return this.#bytes
  }

  /** True when a message of `size` bytes would go over a limit. */
  isFull(size: number): boolean {
    return this.count >= this.maxMessages || this.#bytes + size > this.maxBytes
  }

  push(entry: OutboxEntry): void {
    if (this.#entries === NONE) this.#entries = []
    this.#entries.push(entry)
    this.#bytes += entry.size
  }

  /** Drops (and resolves) every entry up to and including `seq`. Returns how many were dropped. */
  ack(seq: number): number {
    const entries = this.#entries
    let head = this.#head
    const start = head
    while (head < entries.length && entries[head]!.seq <= seq) {
      const entry = entries[head]!
      this.#bytes -= entry.size
      entry.settle?.resolve()
      entries[head] = undefined as unknown as OutboxEntry
      head++
    }
    this.#head = head
    if (this.#cursor < head) this.#cursor = head
    if (head === entries.length) {
      this.#entries = NONE
      this.#head = 0
      this.#cursor = 0
    } else if (head >= COMPACT_AT && head * 2 >= entries.length) {
      this.#entries = entries.slice(head)
      this.#cursor -= head
      this.#head = 0
    }
    return head - start
  }

  /** The next entry to write, advancing the cursor; undefined when all have been written. */
  next(): OutboxEntry | undefined {
    if (this.#cursor >= this.#entries.length) return undefined
    const entry = this.#entries[this.#cursor++]!
    if (entry.seq > this.sentUpTo) this.sentUpTo = entry.seq
    return entry
  }

  /** Whether entries wait to be written. */
  get hasUnsent(): boolean {
    return this.#cursor < this.#entries.length
  }

  /** Moves the cursor past the entries up to `seq` (already written on this transport, before the handshake). */
  skipThrough(seq: number): void {
    while (this.#cursor < this.#entries.length && this.#entries[this.#cursor]!.seq <= seq) this.#cursor++
    if (seq > this.sentUpTo) this.sentUpTo = seq
  }

  /** Puts the cursor back to the oldest unacknowledged entry: a new transport resends them all. */
  rewind(): void {
    this.#cursor = this.#head
  }

  /** Removes and returns every entry (the session is over). */
  takeAll(): OutboxEntry[] {
    const rest = this.#entries.slice(this.#head)
    this.#entries = NONE
    this.#head = 0
    this.#cursor = 0
    this.#bytes = 0
    return rest
  }

  /** The entries with a sequence number above `seq`, oldest first: O(result), sequence numbers are contiguous. */
  entriesAfter(seq: number): OutboxEntry[] {
    const entries = this.#entries
    let i = entries.length
    while (i > this.#head && entries[i - 1]!.seq > seq) i--
    return entries.slice(i)
  }

  /** Highest sequence number acknowledged so far, judging by the oldest entry kept (0 when none is known). */
  ackedBefore(nextSeq: number): number {
    return this.count > 0 ? this.#entries[this.#head]!.seq - 1 : nextSeq - 1
  }

  /** A read-only view of the unacknowledged entries, oldest first. */
  *[Symbol.iterator](): IterableIterator<OutboxEntry> {
    for (let i = this.#head; i < this.#entries.length; i++) yield this.#entries[i]!
  }
}

function noop(): void {}

/** Rejects an entry's emit promise without it counting as unhandled: the session events report it. */
export function rejectEntry(entry: OutboxEntry, error: Error): void {
  const settle = entry.settle
  if (settle === undefined) return
  settle.promise.catch(noop)
  settle.reject(error)
}

/** The events and requests among `entries`, decoded for the application (sessionLost, close). */
export function describeEntries(entries: OutboxEntry[], payloads: Payloads): UnacknowledgedMessage[] {
  const out: UnacknowledgedMessage[] = []
  for (const e of entries) {
    if (e.kind !== Kind.EVENT && e.kind !== Kind.REQUEST) continue
    out.push({
      kind: e.kind === Kind.EVENT ? 'event' : 'request',
      name: e.name,
      data: payloads.decodeStored(e.body, e.format),
    })
  }
  return out
}
