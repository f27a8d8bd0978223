// server.to(room).except(room).emit(event, data): picks the audience of a broadcast, encodes the
// payload once and hands it to the adapter, which queues it for every matching peer (on every node).

import type { BroadcastMessage, MessagingAdapter } from '../adapter.ts'
import { encodeBody, formatOf, type PayloadCodecName } from '../payload-codec.ts'
import { checkEventName } from '../peer.ts'

/** An immutable description of an audience; each call returns a new operator. */
export class BroadcastOperator {
  #adapter: MessagingAdapter
  #codec: PayloadCodecName
  #rooms: ReadonlySet<string> | undefined
  #except: ReadonlySet<string> | undefined
  #volatile: boolean

  constructor(
    adapter: MessagingAdapter,
    codec: PayloadCodecName,
    rooms?: ReadonlySet<string>,
    except?: ReadonlySet<string>,
    volatile = false,
  ) {
    this.#adapter = adapter
    this.#codec = codec
    this.#rooms = rooms
    this.#except = except
    this.#volatile = volatile
  }

  /** Adds a room to the audience (peers in any of the rooms receive the message once). */
  to(room: string): BroadcastOperator {
    const rooms = new Set(this.#rooms)
    rooms.add(room)
    return new BroadcastOperator(this.#adapter, this.#codec, rooms, this.#except, this.#volatile)
  }

  /** Excludes the peers in `room`. */
  except(room: string): BroadcastOperator {
    const except = new Set(this.#except)
    except.add(room)
    return new BroadcastOperator(this.#adapter, this.#codec, this.#rooms, except, this.#volatile)
  }

  /** The same audience, but messages that may be dropped (never queued for a resume). */
  get volatile(): BroadcastOperator {
    return new BroadcastOperator(this.#adapter, this.#codec, this.#rooms, this.#except, true)
  }

  /** Queues the event for every peer in the audience. Reliable unless `.volatile`. */
  emit(event: string, data?: unknown): void {
    checkEventName(event)
    const format = formatOf(data, this.#codec)
    const message: BroadcastMessage = {
      event,
      format,
      body: encodeBody(data, format),
      volatile: this.#volatile,
    }
    this.#adapter.broadcast(message, { rooms: this.#rooms, except: this.#except })
  }

  /** Local peers in the audience's rooms (presence on this node). */
  get peers(): string[] {
    const ids = new Set<string>()
    const rooms = this.#rooms === undefined ? [undefined] : [...this.#rooms]
    for (const room of rooms) for (const peer of this.#adapter.peersIn(room)) ids.add(peer.id)
    return [...ids]
  }
}
