// The client side of durable rooms: `client.subscribe()` sends the subscribe request, routes the
// room events the server pushes to their Subscription, and re-subscribes every subscription from its
// last position whenever the client is connected again (resumed, new session, another server).

import { ErrorCodes, MessagingError } from '../errors.ts'
import { isPosition } from './cluster/history/read-window.ts'
import type { Listener } from './listeners.ts'
import { ROOM_EVENT, readRoomMessage, SUBSCRIBE_METHOD, UNSUBSCRIBE_METHOD } from './room-message.ts'
import { type SubscribeOptions, Subscription } from './subscription.ts'
import { type Format, Format as Formats } from './wire/envelope.ts'
import { decodePayload, refusedFormat } from './wire/payload-codec.ts'

/** What this needs of a client: requests, and its events. */
export type SubscribingClient = {
  request(method: string, data?: unknown): Promise<unknown>
  on(event: string, listener: Listener): unknown
  readonly connected: boolean
  /** The client's `accept`: whether MessagePack payloads are decoded. */
  readonly acceptsMsgpack: boolean
}

/** The server's refusal arrives as a remote error; give it back its own code. */
function refusal(error: unknown): unknown {
  const e = error as { code?: unknown; remoteCode?: unknown; remoteMessage?: unknown }
  if (e?.code === ErrorCodes.REMOTE_ERROR && e.remoteCode === ErrorCodes.SUBSCRIBE_DENIED) {
    return new MessagingError(ErrorCodes.SUBSCRIBE_DENIED, String(e.remoteMessage), { cause: error })
  }
  return error
}

/**
 * Decodes a publication's payload in a format the client accepts (its `accept` option), else throws
 * WK_PROTOCOL. The body is read where it lies (`bytes` from `start`): no view or copy for JSON.
 */
function decoder(client: SubscribingClient): (format: number, bytes: Uint8Array, start: number) => unknown {
  return (format, bytes, start) => {
    if (format === Formats.EMPTY) return undefined
    if (format === Formats.MSGPACK && !client.acceptsMsgpack) throw refusedFormat(format)
    // The frame is only valid during this call: bytes for the application are a copy.
    if (format === Formats.RAW) return Uint8Array.prototype.slice.call(bytes, start)
    return decodePayload(bytes, start, format as Format)
  }
}

export class ClientSubscriptions {
  readonly #client: SubscribingClient
  readonly #subscriptions = new Map<string, Subscription>()
  readonly #onError: (error: unknown) => void
  readonly #decode: (format: number, bytes: Uint8Array, start: number) => unknown

  constructor(client: SubscribingClient, onError: (error: unknown) => void) {
    this.#client = client
    this.#onError = onError
    this.#decode = decoder(client)
    // What the session hands over as a copy (the client reads room messages in place through receive()).
    client.on(ROOM_EVENT, (data: unknown) => this.#receiveCopy(data))
    client.on('state', (state: string) => {
      if (state === 'connected') this.#resubscribeAll()
    })
  }

  async subscribe(room: string, options: SubscribeOptions = {}): Promise<Subscription> {
    const subscription = new Subscription(room, options, this.#decode, (s) => this.#end(s))
    this.#subscriptions
      .get(room)
      ?.unsubscribe()
      .catch(() => {})
    this.#subscriptions.set(room, subscription)
    try {
      const reply = await this.#client.request(SUBSCRIBE_METHOD, { room, since: options.since })
      const position = (reply as { position?: unknown } | undefined)?.position
      if (isPosition(position)) subscription.begin(position)
    } catch (error) {
      if (this.#subscriptions.get(room) === subscription) this.#subscriptions.delete(room)
      throw refusal(error)
    }
    // Messages that arrived with the reply are held until the caller, resumed by this await, has
    // attached its listeners.
    setTimeout(() => subscription.release(), 0)
    return subscription
  }

  #resubscribeAll(): void {
    for (const subscription of this.#subscriptions.values()) {
      this.#client
        .request(SUBSCRIBE_METHOD, { room: subscription.room, since: subscription.resumeFrom })
        .catch((error: unknown) => this.#onError(refusal(error)))
    }
  }

  async #end(subscription: Subscription): Promise<void> {
    if (this.#subscriptions.get(subscription.room) !== subscription) return
    this.#subscriptions.delete(subscription.room)
    if (this.#client.connected) await this.#client.request(UNSUBSCRIBE_METHOD, { room: subscription.room })
  }

  /** A room message in `frame` from `start` (valid during this call only): routed to its subscription. */
  receive(frame: Uint8Array, start: number): void {
    let message: ReturnType<typeof readRoomMessage>
    try {
      // The publication object is reused by the next call: Subscription.receive copies what it keeps.
      message = readRoomMessage(frame, start)
    } catch (error) {
      this.#onError(error)
      return
    }
    this.#subscriptions.get(message.room)?.receive(message)
  }

  #receiveCopy(data: unknown): void {
    if (!(data instanceof Uint8Array)) this.#onError(new TypeError('room event without bytes'))
    else this.receive(data, 0)
  }
}
