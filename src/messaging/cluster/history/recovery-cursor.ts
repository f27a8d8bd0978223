// One subscriber's way from "missed some" to "live", without a gap or a duplicate at the seam. A sans-I/O
// core: the owner feeds it live publications and log pages, asks it which read to make next, and sends
// the events it returns. Every live publication is in the log before it is fanned out, so the log is
// the truth and live delivery a shortcut: anything that does not follow the last delivered offset
// exactly (a hole, an epoch change, a buffer that overflowed) is read from the log instead.
//
//   since given ──► reading ──page: more to read──► reading
//                     ▲  └─page: at head, buffer drained──► live ──live offset = last + 1──► deliver
//                     └──────────── hole / other epoch / overflow ◄───────────┘
//   live entries that arrive while reading wait in a bounded buffer; past the bound they are dropped
//   and read from the log after.

import { DEFAULT_READ_LIMIT } from './limits.ts'
import type { HistoryEntry, HistoryGap, HistoryPage, HistoryPosition, HistoryReadOptions } from './types.ts'

/** A publication as the live fan-out carries it: the entry and its log's epoch. */
export type LiveEntry = HistoryEntry & { epoch: string }

export type CursorEvent =
  | { type: 'message'; entry: HistoryEntry; epoch: string }
  | { type: 'gap'; gap: HistoryGap }

export type RecoveryCursorOptions = {
  /** Live entries kept while a read is under way; more are dropped and read from the log. @default 1000 */
  maxBuffer?: number
  /** Entries per read. @default 1000 */
  pageSize?: number
}

type Buffered = { entry: LiveEntry; arrival: number }

/**
 * True when `entry` comes right after `position`: the next offset of the same log, or the first entry
 * when the position was taken before the room had a log (`{ offset: 0, epoch: '' }`, as a Redis head of
 * an empty room said before it made the room's epoch, and a client may still bring; reading the log for
 * it made every subscriber of a new room re-read it).
 */
function follows(position: HistoryPosition, entry: LiveEntry): boolean {
  if (entry.offset !== position.offset + 1) return false
  return position.epoch === entry.epoch || (position.epoch === '' && position.offset === 0)
}

export class RecoveryCursor {
  readonly room: string
  #position: HistoryPosition | undefined
  #needRead: boolean
  #reading = false
  #buffer: Buffered[] = []
  #arrivals = 0
  /** Arrival count when the read under way started: entries that came before it are covered by it. */
  #readFrom = 0
  /** The highest live publication seen (newest epoch, then offset) and its arrival count. */
  #highest: LiveEntry | undefined
  #highestArrival = 0
  /** A hint came while a read was under way: read once more after it. */
  #again = false
  readonly #maxBuffer: number
  readonly #pageSize: number
  /**
   * Started from `{ offset: 0, epoch: '' }` (the room had no log): an incarnation this cursor never stood
   * in, whose live entries it dropped because the log was lost before it read them, is reported as an
   * 'epoch' gap after offset 0 (no other gap names it). `#visited`: the epochs it stood in.
   */
  readonly #startedEmpty: boolean
  readonly #visited = new Set<string>()

  /** `since`: the last position the subscriber has; without it, live from the first publication seen. */
  constructor(room: string, since?: HistoryPosition, options: RecoveryCursorOptions = {}) {
    this.room = room
    this.#position = since === undefined ? undefined : { offset: since.offset, epoch: since.epoch }
    this.#needRead = since !== undefined
    this.#maxBuffer = options.maxBuffer ?? 1000
    this.#pageSize = options.pageSize ?? DEFAULT_READ_LIMIT
    this.#startedEmpty = since !== undefined && since.epoch === ''
  }

  /** The last position delivered (what the subscriber would resume from). */
  get position(): HistoryPosition | undefined {
    return this.#position === undefined ? undefined : { ...this.#position }
  }

  /** True when `nextRead()` would return a read now. */
  get wantsRead(): boolean {
    return this.#needRead && !this.#reading
  }

  /** True while the cursor is catching up from the log. */
  get recovering(): boolean {
    return this.#needRead || this.#reading
  }

  /**
   * The common case of `live()` without its arrays and event objects (it runs once per subscriber per
   * publication): when the cursor is live and `entry` is the very next offset, moves the position to it
   * and returns true: the caller delivers `entry`. Otherwise changes nothing and returns false: call
   * `live(entry)`.
   */
  follows(entry: LiveEntry): boolean {
    const position = this.#position
    if (this.#needRead || this.#reading || position === undefined || !follows(position, entry)) return false
    this.#seen(entry, ++this.#arrivals)
    // In place: the getter and reads hand out copies.
    position.offset = entry.offset
    if (position.epoch !== entry.epoch) {
      position.epoch = entry.epoch
      this.#visit(entry.epoch)
    }
    return true
  }

  /** A live publication: returns what to deliver now (nothing while catching up). */
  live(entry: LiveEntry): CursorEvent[] {
    const item = { entry, arrival: ++this.#arrivals }
    this.#seen(entry, item.arrival)
    if (this.#needRead || this.#reading) {
      // Past the bound the entry is dropped: #highest remembers that the log must be read up to it.
      if (this.#buffer.length < this.#maxBuffer) this.#buffer.push(item)
      return []
    }
    const events: CursorEvent[] = []
    this.#accept(item, events)
    return events
  }

  /**
   * Something was appended where this node did not see it (another node): read the log if `position` is
   * ahead of what was delivered, or always when no position is given (after an outage of the notifier).
   * A cursor without a position yet (live from now) has nothing to compare with and ignores hints.
   */
  hint(position?: HistoryPosition): void {
    const at = this.#position
    if (at === undefined) return
    if (position !== undefined && position.epoch === at.epoch && position.offset <= at.offset) return
    if (this.#reading) this.#again = true
    else this.#needRead = true
  }

  /** The read to make now, if one is needed and none is under way; the page goes to `page()`. */
  nextRead(): HistoryReadOptions | undefined {
    if (!this.#needRead || this.#reading) return undefined
    this.#reading = true
    this.#needRead = false
    this.#readFrom = this.#arrivals
    const read: HistoryReadOptions = { limit: this.#pageSize }
    if (this.#position !== undefined) read.after = { ...this.#position }
    return read
  }

  /** The read failed: it will be asked for again by the next `nextRead()`. */
  readFailed(): void {
    this.#reading = false
    this.#again = false
    this.#needRead = true
  }

  /** The page answering the last `nextRead()`: returns the gap (if any) and the entries to deliver. */
  page(page: HistoryPage): CursorEvent[] {
    this.#reading = false
    if (this.#again) {
      this.#again = false
      this.#needRead = true
    }
    const events: CursorEvent[] = []
    const epoch = page.head.epoch
    if (page.gap !== undefined) {
      events.push({ type: 'gap', gap: page.gap })
      this.#position = { offset: page.first - 1, epoch }
    } else if (this.#position === undefined || (this.#position.epoch === '' && epoch !== '')) {
      this.#position = { offset: this.#position?.offset ?? page.first - 1, epoch }
    }
    for (const entry of page.entries) {
      if (entry.offset <= this.#position!.offset) continue
      events.push({ type: 'message', entry, epoch })
      this.#position = { offset: entry.offset, epoch }
    }
    this.#visit(this.#position!.epoch)
    if (this.#position!.offset < page.head.offset) {
      this.#needRead = true
      return events
    }
    const buffered = this.#buffer
    this.#buffer = []
    for (const item of buffered) {
      if (this.#needRead) this.#buffer.push(item)
      else this.#accept(item, events)
    }
    // Entries dropped on overflow, or newer than what was read: the log has them.
    const top = this.#highest
    if (!this.#needRead && top !== undefined && this.#ahead(top, this.#highestArrival)) this.#needRead = true
    return events
  }

  #visit(epoch: string): void {
    if (this.#startedEmpty) this.#visited.add(epoch)
  }

  /** An incarnation lost before this cursor (started without a log) ever stood in it: said once, as a gap. */
  #lostUnseen(epoch: string, events: CursorEvent[]): void {
    if (!this.#startedEmpty || epoch === '' || this.#visited.has(epoch)) return
    this.#visited.add(epoch)
    const at = this.#position!
    events.push({
      type: 'gap',
      gap: {
        reason: 'epoch',
        room: this.room,
        epoch: at.epoch,
        from: at.offset + 1,
        to: at.offset,
        count: 0,
        previous: { offset: 0, epoch },
      },
    })
  }

  #seen(entry: LiveEntry, arrival: number): void {
    const top = this.#highest
    if (top === undefined || top.epoch !== entry.epoch || entry.offset > top.offset) {
      this.#highest = entry
      this.#highestArrival = arrival
    }
  }

  /** True when `entry` (arrived as number `arrival`) is one this cursor has not delivered and must still get. */
  #ahead(entry: LiveEntry, arrival: number): boolean {
    const position = this.#position!
    if (entry.epoch === position.epoch) return entry.offset > position.offset
    // Another epoch: one that arrived before the last read started belongs to a log the read no longer
    // found (reported as an epoch gap then); one that arrived after may be newer: read again.
    return arrival > this.#readFrom
  }

  #accept(item: Buffered, events: CursorEvent[]): void {
    const { entry } = item
    const position = this.#position
    if (position === undefined || follows(position, entry)) {
      events.push({ type: 'message', entry, epoch: entry.epoch })
      this.#position = { offset: entry.offset, epoch: entry.epoch }
      this.#visit(entry.epoch)
      return
    }
    if (!this.#ahead(entry, item.arrival)) {
      // Already delivered, or from a dead incarnation (reported by the read's gap, or below).
      this.#lostUnseen(entry.epoch, events)
      return
    }
    this.#needRead = true
    this.#buffer.push(item)
  }
}
