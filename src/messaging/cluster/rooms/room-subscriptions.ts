// The server side of durable rooms: `server.publish()`, the subscribe/unsubscribe requests of
// `client.subscribe()`, and the feeds that carry each room's log and live publications to a peer as
// reliable events. A feed lives as long as the peer's session: while the client is away its messages
// wait in the session's outbox like any other; a client that comes back re-subscribes from its position.

import { ErrorCodes, InvalidArgumentError, MessagingError } from '../../../errors.ts'
import type { Peer } from '../../peer.ts'
import { checkEventName } from '../../peer.ts'
import { encodeGap, encodePublication, ROOM_EVENT } from '../../room-message.ts'
import { checkName, Format } from '../../wire/envelope.ts'
import {
  decodePayload,
  encodeBody,
  formatOf,
  type PayloadCodecName,
  refusedFormat,
} from '../../wire/payload-codec.ts'
import type { BroadcastMessage } from '../adapter.ts'
import {
  type CursorEvent,
  DurableRooms,
  type HistoryEntry,
  type HistoryOptions,
  type HistoryPosition,
  isPosition,
  type RoomFeed,
} from '../history/index.ts'

/** Decides whether `peer` may read `room`; true by default (every room is readable). */
export type AuthorizeSubscribe = (peer: Peer, room: string) => boolean | Promise<boolean>

/** One publication read back from a room's log by `server.history()`. */
export type RoomHistoryEntry = { offset: number; epoch: string; name: string; data: unknown; time: number }

/** The most `server.history()` returns in one call. */
const MAX_RECENT = 1000

/** Subscriptions one peer may hold at once. */
const MAX_FEEDS_PER_PEER = 1024
const encoder = new TextEncoder()

type SubscribeRequest = { room: string; since?: HistoryPosition }

function parseRequest(data: unknown): SubscribeRequest {
  const { room, since } = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  if (typeof room !== 'string' || room === '' || encoder.encode(room).length > 255) {
    throw new InvalidArgumentError('subscribe: room must be a name of 1 to 255 bytes')
  }
  if (since !== undefined && since !== null && !isPosition(since)) {
    throw new InvalidArgumentError('subscribe: since must be { offset, epoch }')
  }
  return since === undefined || since === null
    ? { room }
    : { room, since: { offset: since.offset, epoch: since.epoch } }
}

/**
 * What the log keeps of a publication: the format byte, then the body, encoded straight into place. A
 * slice of Buffer's pool: a store keeps many of these, and a backing store per entry costs the GC.
 */
function stored(format: Format, body: string | Uint8Array | undefined): Uint8Array {
  if (typeof body !== 'string') {
    const bytes = body ?? new Uint8Array()
    const out = Buffer.allocUnsafe(1 + bytes.length)
    out[0] = format
    out.set(bytes, 1)
    return out
  }
  const length = Buffer.byteLength(body)
  const out = Buffer.allocUnsafe(1 + length)
  out[0] = format
  out.write(body, 1, length, length === body.length ? 'latin1' : 'utf8')
  return out
}

/** A log entry's data (format byte, then body) back into application data, in a format `accept` allows. */
function decodeStored(stored: Uint8Array, acceptsMsgpack: boolean): unknown {
  const bytes = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength)
  const format = bytes[0] as Format
  // A shared log (Redis) holds what every node published, in its codec.
  if (format === Format.MSGPACK && !acceptsMsgpack) throw refusedFormat(format)
  return decodePayload(bytes, 1, format)
}

/**
 * How many replayed messages `peer` can take now: what keeps its outbox (unacknowledged pushes, cut as a
 * slow consumer when full) under half full, by count and by bytes (`typical`: bytes of a room message
 * lately). The first page of a room of huge messages can still overshoot the estimate.
 */
function replayBudget(peer: Peer, typical: number): number {
  const outbox = peer.outbox
  const byCount = outbox.maxMessages / 2 - outbox.count
  const byBytes = (outbox.maxBytes / 2 - outbox.bytes) / typical
  return Math.min(byCount, byBytes)
}

const roomMessage = (body: Uint8Array): BroadcastMessage => ({
  event: ROOM_EVENT,
  format: Format.RAW,
  body,
  volatile: false,
})

export class RoomSubscriptions {
  readonly durable: DurableRooms
  readonly #codec: PayloadCodecName
  #authorize: AuthorizeSubscribe = () => true
  readonly #feeds = new Map<Peer, Map<string, RoomFeed>>()
  /**
   * The last publication encoded: a live entry goes to every feed of its room in one loop, so it is
   * encoded once. (A WeakMap keyed by entry kept the encoding as long as the memory store kept the entry:
   * twice the memory, and a GC pass over every live ephemeron; 10% of a durable fan-out.)
   */
  /** Bytes of a room message lately (a moving average), for the replay budget. */
  #typical = 512
  #lastEntry: HistoryEntry | undefined
  #lastMessage: BroadcastMessage | undefined

  readonly #onError: (error: unknown) => void
  readonly #acceptsMsgpack: boolean

  constructor(
    options: HistoryOptions,
    codec: PayloadCodecName,
    onError: (error: unknown) => void,
    acceptsMsgpack = true,
  ) {
    this.durable = new DurableRooms(options, onError)
    this.#codec = codec
    this.#onError = onError
    this.#acceptsMsgpack = acceptsMsgpack
  }

  /** Reports a failure nobody awaits (a broadcast's append). */
  report(error: unknown): void {
    this.#onError(error)
  }

  authorize(fn: AuthorizeSubscribe): void {
    if (typeof fn !== 'function') throw new InvalidArgumentError('authorizeSubscribe(fn) needs a function')
    this.#authorize = fn
  }

  /** Appends to the room's log, then delivers to its subscribers; resolves with the position. */
  publish(room: string, name: string, data: unknown): Promise<HistoryPosition> {
    checkEventName(name)
    checkName(name)
    if (!this.durable.isDurable(room)) {
      throw new InvalidArgumentError(
        `publish: room "${room}" is not durable (the history option maps it to false)`,
      )
    }
    const format = formatOf(data, this.#codec)
    const body = encodeBody(data, format)
    return this.durable.publish(room, name, stored(format, body))
  }

  /** The last `last` entries of a durable room, oldest first, decoded (what `server.history()` returns). */
  async recent(room: string, last: number): Promise<RoomHistoryEntry[]> {
    if (!Number.isSafeInteger(last) || last < 1 || last > MAX_RECENT)
      throw new InvalidArgumentError(`history: last must be an integer from 1 to ${MAX_RECENT}`)
    if (!this.durable.isDurable(room)) return []
    const store = this.durable.store
    const head = await store.head(room)
    if (head.offset === 0) return []
    const after = { offset: Math.max(0, head.offset - last), epoch: head.epoch }
    // What the limits trimmed since is simply not there: a page of recent lines, not a recovery.
    const page = await store.read(room, { after, limit: last })
    return page.entries.map((entry) => ({
      offset: entry.offset,
      epoch: page.head.epoch,
      name: entry.name,
      data: decodeStored(entry.data, this.#acceptsMsgpack),
      time: entry.time,
    }))
  }

  /** The 'wirekit:subscribe' request: checks, authorizes, replaces any feed of the same room. */
  async subscribe(peer: Peer, data: unknown): Promise<{ room: string; position?: HistoryPosition }> {
    const { room, since } = parseRequest(data)
    if (!this.durable.isDurable(room)) {
      throw new MessagingError(ErrorCodes.SUBSCRIBE_DENIED, `subscribe: room "${room}" is not durable`)
    }
    if (!(await this.#authorize(peer, room))) {
      throw new MessagingError(ErrorCodes.SUBSCRIBE_DENIED, `subscribe: not allowed to read "${room}"`)
    }
    if (peer.closed) return { room }
    let feeds = this.#feeds.get(peer)
    if (feeds === undefined) {
      this.#feeds.set(peer, (feeds = new Map()))
      peer.on('close', () => this.#peerClosed(peer))
    }
    if (!feeds.has(room) && feeds.size >= MAX_FEEDS_PER_PEER) {
      throw new MessagingError(ErrorCodes.SUBSCRIBE_DENIED, `subscribe: over ${MAX_FEEDS_PER_PEER} rooms`)
    }
    // From now: from the head as it is now, so a publication racing this request is read from the log.
    const start = since ?? (await this.durable.store.head(room))
    if (peer.closed) return { room }
    feeds.get(room)?.close()
    feeds.set(
      room,
      this.durable.subscribe(
        room,
        start,
        {
          event: (event) => this.#send(peer, room, event),
          entry: (entry, epoch) => peer.deliver(this.#publication(room, entry, epoch)),
        },
        () => replayBudget(peer, this.#typical),
      ),
    )
    return { room, position: start }
  }

  /** The 'wirekit:unsubscribe' request. */
  unsubscribe(peer: Peer, data: unknown): { room: string } {
    const { room } = parseRequest(data)
    const feeds = this.#feeds.get(peer)
    feeds?.get(room)?.close()
    feeds?.delete(room)
    return { room }
  }

  async close(): Promise<void> {
    this.#feeds.clear()
    await this.durable.close()
  }

  #send(peer: Peer, room: string, event: CursorEvent): void {
    const message =
      event.type === 'gap'
        ? roomMessage(encodeGap(event.gap))
        : this.#publication(room, event.entry, event.epoch)
    // The broadcast path (no promise per message): a peer cut for a full outbox ends its session, and
    // its feeds with it; the client re-subscribes from its position when it comes back.
    peer.deliver(message)
  }

  /** The room message of `entry`: encoded once, the same bytes queued for every subscriber. */
  #publication(room: string, entry: HistoryEntry, epoch: string): BroadcastMessage {
    if (entry === this.#lastEntry) return this.#lastMessage!
    const message = roomMessage(
      encodePublication(room, entry.name, epoch, entry.offset, entry.data, Buffer.allocUnsafe),
    )
    this.#lastEntry = entry
    this.#lastMessage = message
    this.#typical = Math.max(64, this.#typical * 0.9 + (message.body as Uint8Array).length * 0.1)
    return message
  }

  #peerClosed(peer: Peer): void {
    const feeds = this.#feeds.get(peer)
    if (feeds === undefined) return
    for (const feed of feeds.values()) feed.close()
    this.#feeds.delete(peer)
  }
}
