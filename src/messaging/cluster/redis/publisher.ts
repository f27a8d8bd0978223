// This node's reliable broadcasts on their way through Redis. Everything broadcast in one event-loop
// turn goes out in one script call (numbered, logged, published once); local peers get a broadcast
// when Redis echoes it back, so every node delivers in the same global order.
// While Redis is unreachable, local peers get broadcasts at once (in order), and the other nodes get
// them on recovery from a bounded backlog; beyond the bound they are dropped for the other nodes and
// counted. A broadcast stays here until its echo arrives: if Redis lost it (restarted empty), it is
// sent again.
//
//   queued ──send──► sending ──reply──► sent ──echo──► (gone)
//     ▲                 │ failed          │ Redis restarted empty
//     └─────────────────┴─────────────────┘

import { ErrorCodes, MessagingError } from '../../../errors.ts'

export type OutageLimits = {
  /** Broadcasts kept for the other nodes while Redis is unreachable. @default 10_000 */
  maxMessages?: number
  /** Bytes kept for the other nodes while Redis is unreachable. @default 16 MiB */
  maxBytes?: number
}

export type Outgoing = { originSeq: number; bytes: Buffer }

type Entry = Outgoing & {
  state: 'queued' | 'sending' | 'sent' | 'dropped'
  /** The epoch Redis numbered it in (when sent). */
  epoch: string | undefined
  /** Delivered to local peers already (during an outage). */
  local: boolean
}

export type PublisherHost = {
  /** Runs the publish script for `batch`; resolves with the epoch Redis numbered it in. */
  send(batch: Buffer[]): Promise<string>
  readonly usable: boolean
  /** Delivers one of our broadcasts to local peers. */
  deliverLocally(out: Outgoing): void
  dropped(count: number, error: Error): void
}

const MAX_BATCH_MESSAGES = 2000
const MAX_BATCH_BYTES = 4 * 1024 * 1024

export class Publisher {
  #host: PublisherHost
  /** Our broadcasts not yet echoed back, in origin order. */
  #own: Entry[] = []
  #bytes = 0
  #scheduled = false
  #maxMessages: number
  #maxBytes: number
  /** Broadcasts dropped for the other nodes during outages. */
  dropped = 0

  constructor(host: PublisherHost, limits: OutageLimits = {}) {
    this.#host = host
    this.#maxMessages = limits.maxMessages ?? 10_000
    this.#maxBytes = limits.maxBytes ?? 16 * 1024 * 1024
  }

  /** Broadcasts waiting for Redis (or for their echo). */
  get buffered(): number {
    return this.#own.length
  }

  publish(out: Outgoing): void {
    const usable = this.#host.usable
    if (
      !usable &&
      (this.#own.length >= this.#maxMessages || this.#bytes + out.bytes.length > this.#maxBytes)
    ) {
      this.dropped++
      this.#host.dropped(
        1,
        new MessagingError(
          ErrorCodes.ADAPTER_UNAVAILABLE,
          `Redis is unavailable and ${this.#own.length} broadcasts are waiting: broadcast dropped for the other nodes`,
        ),
      )
      this.#push({ ...out, state: 'dropped', epoch: undefined, local: false })
    } else this.#push({ ...out, state: 'queued', epoch: undefined, local: false })
    if (usable) this.#schedule()
    else this.deliverBacklog()
  }

  #push(entry: Entry): void {
    this.#own.push(entry)
    this.#bytes += entry.bytes.length
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    // Before the turn's session flushes (setImmediate): Redis has the broadcast before any client does.
    process.nextTick(() => this.#flush())
  }

  #flush(): void {
    this.#scheduled = false
    if (!this.#host.usable) return
    let batch: Entry[] = []
    let bytes = 0
    for (const entry of this.#own) {
      if (entry.state !== 'queued') continue
      if (batch.length >= MAX_BATCH_MESSAGES || bytes >= MAX_BATCH_BYTES) {
        this.#send(batch)
        batch = []
        bytes = 0
      }
      batch.push(entry)
      bytes += entry.bytes.length
    }
    if (batch.length > 0) this.#send(batch)
  }

  #send(batch: Entry[]): void {
    for (const entry of batch) entry.state = 'sending'
    this.#host.send(batch.map((e) => e.bytes)).then(
      (epoch) => {
        for (const entry of batch) {
          if (entry.state !== 'sending') continue
          entry.state = 'sent'
          entry.epoch = epoch
        }
      },
      () => {
        for (const entry of batch) if (entry.state === 'sending') entry.state = 'queued'
        if (!this.#host.usable) this.deliverBacklog()
        // Redis refused the script while reachable (out of memory...): try again shortly.
        else setTimeout(() => this.#schedule(), 100).unref()
      },
    )
  }

  /**
   * Redis echoed our broadcast `originSeq`: returns whether local peers still need it (false when it
   * was delivered during an outage, or is a second copy).
   */
  echoed(originSeq: number): boolean {
    const own = this.#own
    for (let i = 0; i < own.length; i++) {
      const entry = own[i]!
      if (entry.originSeq !== originSeq) continue
      own.splice(i, 1)
      this.#bytes -= entry.bytes.length
      return !entry.local
    }
    return false
  }

  /** Outage: local peers get our waiting broadcasts now, in order (stopping at one whose fate is unknown). */
  deliverBacklog(): void {
    const own = this.#own
    for (let i = 0; i < own.length; i++) {
      const entry = own[i]!
      if (entry.local) continue
      if (entry.state === 'sending') return
      entry.local = true
      this.#host.deliverLocally(entry)
      if (entry.state === 'dropped') {
        own.splice(i--, 1)
        this.#bytes -= entry.bytes.length
      }
    }
  }

  /** Redis is usable again, numbering in `epoch`: send what it does not have. */
  resume(epoch: string): void {
    for (const entry of this.#own) {
      if (entry.state === 'sent' && entry.epoch !== epoch) entry.state = 'queued'
    }
    this.#schedule()
  }

  /** Sends what is pending now (on close). */
  flushNow(): void {
    if (this.#scheduled) this.#flush()
  }
}
