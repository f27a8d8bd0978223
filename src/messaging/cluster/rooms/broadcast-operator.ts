// server.to(room).except(room).emit(event, data): picks the audience of a broadcast, encodes the
// payload once and hands it to the adapter, which queues it for every matching peer (on every node).

import { InvalidArgumentError } from '../../../errors.ts'
import { checkEventName } from '../../peer.ts'
import { checkName, Flag } from '../../wire/envelope.ts'
import { envelopeLength } from '../../wire/frame-writer.ts'
import { bodyLength, encodeBody, formatOf, type PayloadCodecName } from '../../wire/payload-codec.ts'
import type { BroadcastMessage, MessagingAdapter } from '../adapter.ts'
import type { RoomSubscriptions } from './room-subscriptions.ts'

/** What every operator of one server shares. */
export type BroadcastContext = {
  adapter: MessagingAdapter
  codec: PayloadCodecName
  maxFrameLength: number
  /** Durable rooms, when the server has the history option. */
  history?: RoomSubscriptions | undefined
}

/** An immutable description of an audience; each call returns a new operator. */
export class BroadcastOperator {
  #context: BroadcastContext
  #rooms: ReadonlySet<string> | undefined
  #except: ReadonlySet<string> | undefined
  #volatile: boolean

  constructor(
    context: BroadcastContext,
    rooms?: ReadonlySet<string>,
    except?: ReadonlySet<string>,
    volatile = false,
  ) {
    this.#context = context
    this.#rooms = rooms
    this.#except = except
    this.#volatile = volatile
  }

  /** Adds a room to the audience (peers in any of the rooms receive the message once). */
  to(room: string): BroadcastOperator {
    const rooms = new Set(this.#rooms)
    rooms.add(room)
    return new BroadcastOperator(this.#context, rooms, this.#except, this.#volatile)
  }

  /** Excludes the peers in `room`. */
  except(room: string): BroadcastOperator {
    const except = new Set(this.#except)
    except.add(room)
    return new BroadcastOperator(this.#context, this.#rooms, except, this.#volatile)
  }

  /** The same audience, but messages that may be dropped (never queued for a resume). */
  get volatile(): BroadcastOperator {
    return new BroadcastOperator(this.#context, this.#rooms, this.#except, true)
  }

  /** Queues the event for every peer in the audience. Reliable unless `.volatile`. */
  emit(event: string, data?: unknown): void {
    checkEventName(event)
    const { adapter, codec, maxFrameLength } = this.#context
    const format = formatOf(data, codec)
    const body = encodeBody(data, format)
    // Refused once here rather than silently by every peer.
    const size = envelopeLength(format | Flag.SEQ | Flag.NAME, checkName(event), bodyLength(body))
    if (size > maxFrameLength) {
      throw new InvalidArgumentError(
        `Message "${event}" of ${size} bytes exceeds maxFrameLength ${maxFrameLength}`,
      )
    }
    const message: BroadcastMessage = { event, format, body, volatile: this.#volatile }
    adapter.broadcast(message, { rooms: this.#rooms, except: this.#except })
    // Durable rooms also log it for their subscribers (who recover it after any outage).
    const history = this.#context.history
    if (history !== undefined && !this.#volatile && this.#rooms !== undefined)
      this.#publish(history, event, data)
  }

  #publish(history: RoomSubscriptions, event: string, data: unknown): void {
    for (const room of this.#rooms!) {
      if (!history.durable.isDurable(room)) continue
      history.publish(room, event, data).catch((error: unknown) => history.report(error))
    }
  }

  /** Local peers in the audience's rooms (presence on this node). */
  get peers(): string[] {
    const ids = new Set<string>()
    const rooms = this.#rooms === undefined ? [undefined] : [...this.#rooms]
    for (const room of rooms) for (const peer of this.#context.adapter.peersIn(room)) ids.add(peer.id)
    return [...ids]
  }
}
