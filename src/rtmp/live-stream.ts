// One stream key on the server: its publisher, its players, and what a player joining late needs
// (metadata, sequence headers, and the GOP cache: every frame since the last keyframe, so a player
// starts at once on a picture). The cache is bounded in bytes; a GOP longer than that is dropped
// and late joiners wait for the next keyframe instead.

import { audioCodec, isMetadata, videoCodec } from './media.ts'
import type { MediaBatch, MediaItem } from './media-item.ts'

/** What the stream hands media to: an RTMP or HTTP-FLV player. */
export interface Subscriber {
  /** New frames (or metadata, or sequence headers) from the publisher: what one read of it brought. */
  deliver(batch: MediaBatch): void
  /** A publisher started: send what a decoder needs first (`join` items). */
  published(stream: LiveStream): void
  /** The publisher went away. */
  unpublished(stream: LiveStream): void
}

/** The publishing side, as the stream sees it. */
export interface Publisher {
  readonly id: string
  /** Milliseconds since the publisher last sent anything (for takeover of a stale session). */
  idleFor(now: number): number
  end(reason?: Error): void
}

export type LiveStreamOptions = { gopCache: boolean; maxGopBytes: number; playersPerTurn: number }

export class LiveStream {
  readonly app: string
  readonly name: string
  readonly key: string
  publisher: Publisher | undefined
  /** Each player, with the sequence number of the next item it needs (items count from the stream's start). */
  readonly players = new Map<Subscriber, number>()
  metadata: MediaItem | undefined
  videoConfig: MediaItem | undefined
  audioConfig: MediaItem | undefined
  hasVideo = false
  videoCodec: string | undefined
  audioCodec: string | undefined
  readonly #options: LiveStreamOptions
  #gop: MediaItem[] = []
  #gopBytes = 0
  /** Items received and not yet handed to every player; #pending[i] has sequence number #base + i. */
  #pending: MediaItem[] = []
  #base = 0
  /** Items received since the stream was made (never reset: players' positions refer to it). */
  #received = 0
  /** Items received up to the last flush(): what a player visited now is handed. */
  #visible = 0
  /** The pass under way over the players (it may span turns), and what was visible when it began. */
  #cursor: MapIterator<[Subscriber, number]> | undefined
  #passFrom = 0
  /**
   * Where passes start: each starts one slice of players further on, so no player is always served
   * last (in join order the newest would wait for the whole audience on every frame). A pass visits
   * the players from its start to the end of the map (#skipped players stay behind), then wraps.
   */
  #rotation = 0
  #skipped = 0
  #wrapped = false
  /** The batches of this pass, by first sequence number: players at the same place share one (and its bytes). */
  #batches = new Map<number, MediaBatch & { end: number }>()
  #scheduled = false
  // Counters for stats(): totals, and the rates measured by the server's once-a-second tick.
  bytesIn = 0
  videoFrames = 0
  audioFrames = 0
  publishedAt = 0
  bitrate = 0
  fps = 0
  #lastBytes = 0
  #lastFrames = 0
  #lastTick = 0

  constructor(app: string, name: string, options: LiveStreamOptions) {
    this.app = app
    this.name = name
    this.key = `${app}/${name}`
    this.#options = options
  }

  get gopBytes(): number {
    return this.#gopBytes
  }

  /** Items held for players this pass has not visited yet (none once a pass is over). */
  get backlog(): number {
    return this.#pending.length
  }

  /** A publisher takes the stream: the cache of the previous one is gone. */
  start(publisher: Publisher, now: number): void {
    this.publisher = publisher
    this.#reset()
    this.publishedAt = now
    this.#lastTick = now
    // Nothing of the previous publisher is left to hand out (detach and stop drained it).
    this.#pending = []
    this.#base = this.#visible = this.#passFrom = this.#received
    this.#cursor = undefined
    this.#wrapped = false
    this.#batches.clear()
    for (const player of this.players.keys()) {
      this.players.set(player, this.#received) // it joins the new publisher afresh
      player.published(this)
    }
  }

  /** Lets a publisher go without telling the players: another takes over at once. */
  detach(publisher: Publisher): void {
    if (this.publisher !== publisher) return
    this.#drain()
    this.publisher = undefined
  }

  stop(publisher: Publisher): void {
    if (this.publisher !== publisher) return
    this.#drain()
    this.publisher = undefined
    this.#reset()
    for (const player of this.players.keys()) player.unpublished(this)
  }

  #reset(): void {
    this.metadata = this.videoConfig = this.audioConfig = undefined
    this.#gop = []
    this.#gopBytes = 0
    this.hasVideo = false
    this.bytesIn = this.videoFrames = this.audioFrames = this.bitrate = this.fps = 0
    this.#lastBytes = this.#lastFrames = 0
  }

  /** A message from the publisher: remembered as needed; players get it at the next flush(). */
  receive(item: MediaItem): void {
    this.bytesIn += item.data.length
    if (item.type === 18) {
      if (isMetadata(item.data)) this.metadata = item
    } else if (item.type === 9) {
      this.hasVideo = true
      this.videoCodec ??= videoCodec(item.data)
      if (item.config) this.videoConfig = item
      else {
        this.videoFrames++
        this.#cache(item)
      }
    } else {
      this.audioCodec ??= audioCodec(item.data)
      if (item.config) this.audioConfig = item
      else {
        this.audioFrames++
        if (this.#gop.length > 0) this.#cache(item)
      }
    }
    this.#pending.push(item)
    this.#received++
  }

  /** A player joins: it is sent the join items now, and every batch received from here on. */
  addPlayer(player: Subscriber): void {
    this.players.set(player, this.#received)
  }

  /**
   * Hands what was received since the last call to every player, later in this event-loop turn
   * (setImmediate: after the poll phase, so every read of this turn goes out as one write per
   * player). The publisher's session calls it after each read (and before it awaits anything). At
   * most `playersPerTurn` players are served per turn; the others follow after pending I/O has run,
   * so with many players a publisher's data cannot starve handshakes and other streams.
   *
   * Each player keeps its own place in the stream, and a visit hands it everything visible it lacks
   * as one write: a read that arrives while a pass over the players is under way (the audio frame
   * just behind a video frame, typically) reaches the players not yet visited in the same write as
   * what came before it, and the players already visited in the next pass. A player joining meanwhile
   * starts after what its join items (the GOP cache) hold.
   */
  flush(): void {
    if (this.#visible === this.#received) return
    this.#visible = this.#received
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#nextTurn)
    }
  }

  readonly #nextTurn = (): void => {
    this.#scheduled = false
    this.#deliver(this.#options.playersPerTurn)
  }

  /** Hands everything received to every player now (before the publisher changes or leaves). */
  #drain(): void {
    this.flush()
    this.#deliver(Number.POSITIVE_INFINITY)
  }

  #deliver(budget: number): void {
    for (;;) {
      if (this.#cursor === undefined) {
        if (this.#passFrom === this.#visible) return // every player has everything visible
        this.#passFrom = this.#visible
        const size = this.players.size
        this.#skipped = size === 0 ? 0 : this.#rotation % size
        this.#rotation = this.#skipped + this.#options.playersPerTurn
        this.#wrapped = false
        this.#cursor = this.players.entries()
        for (let i = 0; i < this.#skipped; i++) this.#cursor.next()
      }
      for (let entry = this.#nextPlayer(); entry !== undefined; entry = this.#nextPlayer()) {
        const [player, from] = entry
        const to = this.#visible
        if (from < to) {
          this.players.set(player, to)
          player.deliver(this.#batch(from, to))
        }
        if (--budget <= 0) {
          if (!this.#scheduled) {
            this.#scheduled = true
            setImmediate(this.#nextTurn)
          }
          return
        }
      }
      // The pass is over: every player has what was visible when it began, so those items can go.
      this.#cursor = undefined
      this.#batches.clear()
      this.#pending.splice(0, this.#passFrom - this.#base)
      this.#base = this.#passFrom
    }
  }

  /**
   * The next player of the pass under way (undefined: the pass is over). After the end of the map it
   * goes on with the players the pass skipped at its start. A player leaving meanwhile can make one of
   * them be visited twice, which hands it nothing it has; none is missed. A player joining meanwhile
   * may wait for the next pass, which its join items cover.
   */
  #nextPlayer(): [Subscriber, number] | undefined {
    const next = this.#cursor!.next()
    if (this.#wrapped) return next.done || this.#skipped-- <= 0 ? undefined : next.value
    if (!next.done) return next.value
    if (this.#skipped === 0) return undefined
    this.#wrapped = true
    this.#cursor = this.players.entries()
    return this.#nextPlayer()
  }

  /** Items `from` up to `to` as one batch, shared by the players of this pass at the same place. */
  #batch(from: number, to: number): MediaBatch {
    const known = this.#batches.get(from)
    if (known?.end === to) return known
    const batch = {
      items: this.#pending.slice(from - this.#base, to - this.#base),
      joined: undefined,
      end: to,
    }
    this.#batches.set(from, batch)
    return batch
  }

  #cache(item: MediaItem): void {
    if (!this.#options.gopCache) return
    if (item.keyframe) {
      this.#gop = []
      this.#gopBytes = 0
    } else if (this.#gop.length === 0) return // no keyframe yet: nothing a player could start from
    this.#gop.push(item)
    this.#gopBytes += item.data.length
    if (this.#gopBytes > this.#options.maxGopBytes) {
      this.#gop = []
      this.#gopBytes = 0
    }
  }

  /** What a player joining now is sent first: metadata, sequence headers, then the cached GOP. */
  joinItems(): MediaItem[] {
    const items: MediaItem[] = []
    if (this.metadata) items.push(this.metadata)
    if (this.videoConfig) items.push(this.videoConfig)
    if (this.audioConfig) items.push(this.audioConfig)
    for (const item of this.#gop) items.push(item)
    return items
  }

  /** Measures bitrate (bits/s) and frame rate since the last tick. */
  tick(now: number): void {
    const elapsed = (now - this.#lastTick) / 1000
    if (elapsed <= 0) return
    this.bitrate = Math.round(((this.bytesIn - this.#lastBytes) * 8) / elapsed)
    this.fps = Math.round(((this.videoFrames - this.#lastFrames) / elapsed) * 10) / 10
    this.#lastBytes = this.bytesIn
    this.#lastFrames = this.videoFrames
    this.#lastTick = now
  }
}
