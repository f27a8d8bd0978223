// RedisAdapter: rooms and broadcast across server processes, presence across nodes, and sessions that
// resume on another node. Broadcasts are numbered by one Redis script (a single global order), logged
// in a capped stream and published once per batch (sharded pub/sub when Redis has it). Each node
// delivers in that order; local peers keep being served while Redis is away.
//
//   connecting ──both connections ready, position synced──► usable ──a connection lost──► outage
//        ▲                                                                                 │
//        └──────────────── ioredis reconnects; re-subscribe, catch up from the log ◄───────┘

import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { Redis, type RedisOptions } from 'ioredis'
import { ErrorCodes, InvalidArgumentError, MessagingError, ProtocolError } from '../../../errors.ts'
import { debug } from '../../channels.ts'
import type {
  AdapterPeer,
  BroadcastMessage,
  BroadcastTarget,
  MessagingAdapter,
  SessionStore,
} from '../adapter.ts'
import { MemorySessionStore } from '../memory-adapter.ts'
import { RoomIndex } from '../rooms/room-index.ts'
import { type PeerInfo, Presence, parseControl } from './presence.ts'
import { type OutageLimits, type Outgoing, Publisher } from './publisher.ts'
import { defineScripts, Keys, type ScriptedRedis } from './scripts.ts'
import { Sequencer } from './sequencer.ts'
import { RedisSessionStore } from './session-store.ts'
import { decodeBatch, decodeBroadcast, encodeBroadcast, volatileBatch, type WireBroadcast } from './wire.ts'

export type RedisAdapterOptions = {
  /**
   * Where Redis is: a URL (`redis://host:6379/0`) or an ioredis client whose settings are copied
   * (the adapter opens its own two connections and never closes yours).
   * @example new RedisAdapter({ redis: 'redis://127.0.0.1:6379' })
   */
  redis: string | Redis
  /** Prefix of every key and channel; nodes with the same prefix form one cluster. @default 'wirekit' */
  prefix?: string
  /** How long a disconnected session stays resumable; use the MessageServer's `retention`. @default 60_000 */
  retention?: number
  /**
   * Where sessions live: 'redis' (resumable on any node) or 'local' (this process only, no Redis write
   * per message). @default 'redis'
   */
  sessions?: 'redis' | 'local'
  /** Sharded pub/sub (SPUBLISH, Redis ≥ 7); 'auto' uses it when the server has it. @default 'auto' */
  sharded?: boolean | 'auto'
  /**
   * Broadcasts kept in the Redis log, for a node that missed some while re-subscribing and for sessions
   * resumed after a crash. Size it to cover the broadcasts sent during a failover. @default 100_000
   */
  logLength?: number
  /** Bound of the buffer of broadcasts for the other nodes while Redis is unreachable. */
  outage?: OutageLimits
  /** Unacknowledged messages kept per session in Redis; beyond it the session is no longer resumable elsewhere. @default 20_000 */
  maxStoredMessages?: number
  /** Time a resume may wait for Redis (and for this node to catch up), in ms. @default 5_000 */
  claimTimeout?: number
  /** Time `fetchPeers` waits for every node to answer, in ms. @default 2_000 */
  presenceTimeout?: number
}

/** Counters, for monitoring. */
export type RedisAdapterStats = {
  /** Broadcasts this node sent to Redis. */
  published: number
  /** Broadcasts buffered now because Redis is unreachable. */
  buffered: number
  /** Broadcasts dropped for the other nodes (outage buffer full, or volatile during an outage). */
  dropped: number
  /** Broadcasts from other nodes this node could not deliver (missing from the log). */
  lost: number
  /** Messages from Redis that could not be decoded. */
  malformed: number
  /** Times Redis became unreachable. */
  outages: number
}

const CONNECTION_DEFAULTS: RedisOptions = {
  // The adapter decides what waits during an outage; ioredis must not queue or replay on its own.
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  retryStrategy: (times) => Math.min(50 * times, 1000),
}

/**
 * Rooms, broadcast and sessions across server processes, on Redis.
 * @example
 * const adapter = new RedisAdapter({ redis: 'redis://127.0.0.1:6379' })
 * const server = new MessageServer({ adapter })
 * await adapter.ready()
 */
export class RedisAdapter extends EventEmitter implements MessagingAdapter {
  /** This process's id in the cluster (changes on restart). */
  readonly node = randomBytes(8).toString('hex')
  readonly sessions: SessionStore
  readonly #keys: Keys
  readonly #cmd: ScriptedRedis
  readonly #sub: Redis
  readonly #rooms = new RoomIndex()
  readonly #sequencer: Sequencer
  readonly #publisher: Publisher
  readonly #presence: Presence
  readonly #store: RedisSessionStore | undefined
  readonly #options: RedisAdapterOptions
  #sharded: boolean | undefined
  #usable = false
  #syncing = false
  #closed = false
  #originSeq = 0
  /** Highest origin sequence seen per node: a broadcast Redis got twice is delivered once. */
  #lastFrom = new Map<string, number>()
  #usableWaiters = new Set<(ok: boolean) => void>()
  #stats: RedisAdapterStats = { published: 0, buffered: 0, dropped: 0, lost: 0, malformed: 0, outages: 0 }
  #everReady = false

  constructor(options: RedisAdapterOptions) {
    super()
    if (options === null || typeof options !== 'object' || options.redis === undefined)
      throw new InvalidArgumentError('RedisAdapter needs { redis: url or ioredis client }')
    this.#options = options
    const retention = options.retention ?? 60_000
    if (!(retention > 0)) throw new InvalidArgumentError('retention must be a positive number of ms')
    this.#keys = new Keys(options.prefix ?? 'wirekit')
    const base = options.redis
    const make = (extra: RedisOptions): Redis =>
      typeof base === 'string'
        ? new Redis(base, { ...CONNECTION_DEFAULTS, ...extra })
        : base.duplicate({ ...CONNECTION_DEFAULTS, ...extra })
    this.#cmd = defineScripts(make({ connectionName: `wirekit-${this.node}` }))
    // The subscriber may queue its (re)subscribe commands until connected.
    this.#sub = make({ enableOfflineQueue: true, connectionName: `wirekit-sub-${this.node}` })
    const adapter = this
    this.#presence = new Presence(this.node)
    this.#sequencer = new Sequencer({
      deliver: (seq, wire) => this.#deliverSequenced(seq, wire),
      fetch: (from, to) => this.#fetchLog(from, to),
      lost: (count, error) => {
        this.#stats.lost += count
        debug('redis adapter: %d broadcast(s) lost: %s', count, (error as Error)?.message)
        this.emit(
          'lost',
          count,
          new MessagingError(ErrorCodes.ADAPTER_UNAVAILABLE, `${count} broadcast(s) from other nodes lost`, {
            cause: error,
          }),
        )
      },
      epochChanged: () => this.#store?.markAllStale(),
    })
    this.#publisher = new Publisher(
      {
        send: (batch) => this.#sendBatch(batch),
        get usable() {
          return adapter.#usable
        },
        deliverLocally: (out) => this.#deliverOwn(out),
        dropped: (count, error) => {
          this.#stats.dropped += count
          this.emit('dropped', count, error)
        },
      },
      options.outage,
    )
    if (options.sessions === 'local') this.sessions = new MemorySessionStore()
    else {
      this.#store = new RedisSessionStore(
        {
          node: this.node,
          keys: this.#keys,
          redis: this.#cmd,
          sequencer: this.#sequencer,
          get usable() {
            return adapter.#usable
          },
          whenUsable: (timeout) => this.#whenUsable(timeout),
          roomsOf: (id) => this.#roomsOfId(id),
          claimed: (id, previous) =>
            this.#publishControl({ t: 'claimed', id, node: previous, by: this.node }),
          failed: (what, error) => this.#failed(what, error),
        },
        {
          retention,
          maxStoredMessages: options.maxStoredMessages ?? 20_000,
          maxCatchUp: options.logLength ?? 100_000,
          claimTimeout: options.claimTimeout ?? 5_000,
        },
      )
      this.sessions = this.#store
    }
    this.#wire()
  }

  /** Resolves once Redis is reachable and this node follows the broadcast order (or after `timeout`). */
  async ready(timeout = 10_000): Promise<void> {
    if (!(await this.#whenUsable(timeout)))
      throw new MessagingError(ErrorCodes.ADAPTER_UNAVAILABLE, `Redis not reachable within ${timeout} ms`)
  }

  /** Whether Redis is reachable now (false during an outage). */
  get usable(): boolean {
    return this.#usable
  }

  get stats(): RedisAdapterStats {
    return { ...this.#stats, buffered: this.#publisher.buffered, dropped: this.#publisher.dropped }
  }

  // ——— connections ———

  #wire(): void {
    const lost = (): void => this.#outage()
    const maybeReady = (): void => void this.#sync()
    for (const conn of [this.#cmd, this.#sub]) {
      conn.on('ready', maybeReady)
      conn.on('close', lost)
      conn.on('error', (error: Error) => debug('redis adapter: connection error %s', error.message))
    }
    this.#sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.#onMessage(channel, message))
    this.#sub.on('smessageBuffer', (channel: Buffer, message: Buffer) => this.#onMessage(channel, message))
  }

  #outage(): void {
    if (!this.#usable) return
    this.#usable = false
    this.#stats.outages++
    this.#publisher.deliverBacklog()
    debug('redis adapter: Redis unreachable, serving local peers only')
    this.emit('outage', new MessagingError(ErrorCodes.ADAPTER_UNAVAILABLE, 'Redis is unreachable'))
  }

  async #sync(): Promise<void> {
    if (this.#syncing || this.#usable || this.#closed) return
    if (this.#cmd.status !== 'ready' || this.#sub.status !== 'ready') return
    this.#syncing = true
    try {
      if (this.#sharded === undefined) this.#sharded = await this.#detectSharded()
      const channels = [this.#keys.broadcast, this.#keys.control, this.#keys.node(this.node)]
      if (this.#sharded) await this.#sub.ssubscribe(...channels)
      else await this.#sub.subscribe(...channels)
      const [epoch, last] = (await this.#cmd.wkPosition(
        this.#keys.seq,
        this.#keys.epoch,
        this.#keys.log,
        candidateEpoch(),
      )) as [string, string]
      if (this.#sequencer.epoch === undefined) this.#sequencer.start(epoch, Number(last))
      else this.#sequencer.catchUp(epoch, Number(last))
      if (this.#cmd.status !== 'ready' || this.#sub.status !== 'ready') return
      this.#usable = true
      const recovered = this.#everReady
      this.#everReady = true
      for (const wake of this.#usableWaiters) wake(true)
      this.#usableWaiters.clear()
      this.#publisher.resume(this.#sequencer.epoch ?? epoch)
      this.#store?.resyncAll()
      if (recovered) {
        debug('redis adapter: Redis reachable again')
        this.emit('recovered')
      }
    } catch (error) {
      this.#failed('sync with Redis', error)
    } finally {
      this.#syncing = false
    }
    // A connection may have dropped and come back while syncing.
    if (!this.#usable && !this.#closed) setTimeout(() => void this.#sync(), 100).unref()
  }

  async #detectSharded(): Promise<boolean> {
    const option = this.#options.sharded ?? 'auto'
    if (option !== 'auto') return option
    try {
      const info = (await this.#cmd.call('COMMAND', 'INFO', 'SPUBLISH')) as unknown[]
      return Array.isArray(info) && info[0] !== null && info[0] !== undefined
    } catch {
      return false
    }
  }

  #whenUsable(timeout: number): Promise<boolean> {
    if (this.#usable) return Promise.resolve(true)
    if (this.#closed) return Promise.resolve(false)
    return new Promise((resolve) => {
      const wake = (ok: boolean): void => {
        clearTimeout(timer)
        resolve(ok)
      }
      const timer = setTimeout(() => {
        this.#usableWaiters.delete(wake)
        resolve(false)
      }, timeout)
      this.#usableWaiters.add(wake)
    })
  }

  #failed(what: string, error: unknown): void {
    debug('redis adapter: could not %s: %s', what, (error as Error)?.message)
    this.emit('failed', what, error)
  }

  // ——— incoming ———

  #onMessage(channel: Buffer, message: Buffer): void {
    const name = channel.toString()
    try {
      if (name === this.#keys.broadcast) {
        const batch = decodeBatch(message)
        if (batch.kind === 'volatile') this.#deliverVolatile(batch.broadcast)
        else this.#sequencer.push(batch.epoch, batch.first, batch.broadcasts)
        return
      }
      const control = parseControl(message.toString())
      if (control === undefined) throw new ProtocolError(ErrorCodes.PROTOCOL, 'Bad control message')
      if (control.t === 'who') {
        const { to, answer } = this.#presence.answer(control, this.#rooms.peersIn(control.room ?? undefined))
        this.#publish(this.#keys.node(to), answer).catch((error) => this.#failed('answer presence', error))
      } else if (control.t === 'here') this.#presence.received(control)
      else if (control.node === this.node && control.by !== this.node) this.#store?.release(control.id)
    } catch (error) {
      this.#stats.malformed++
      this.#failed(`read a message on ${name}`, error)
    }
  }

  #deliverSequenced(_seq: number, wire: WireBroadcast): void {
    if (wire.origin === this.node) {
      // Our own broadcast: local peers get it now unless they already did during an outage.
      if (!this.#publisher.echoed(wire.originSeq)) return
      for (const peer of this.#rooms.audience(wire.target)) peer.deliver(wire.message)
      return
    }
    const last = this.#lastFrom.get(wire.origin) ?? 0
    if (wire.originSeq <= last) return
    this.#lastFrom.set(wire.origin, wire.originSeq)
    for (const peer of this.#rooms.audience(wire.target)) peer.deliver(wire.message)
  }

  #deliverVolatile(wire: WireBroadcast): void {
    if (wire.origin === this.node) return
    for (const peer of this.#rooms.audience(wire.target)) peer.deliver(wire.message)
  }

  /** One of our broadcasts during an outage: local peers get it now (the publisher makes it once). */
  #deliverOwn(out: Outgoing): void {
    const { wire } = decodeBroadcast(out.bytes)
    for (const peer of this.#rooms.audience(wire.target)) peer.deliver(wire.message)
  }

  async #fetchLog(from: number, to: number): Promise<Map<number, WireBroadcast>> {
    const entries = (await this.#cmd.xrangeBuffer(this.#keys.log, `0-${from}`, `0-${to}`)) as unknown as [
      Buffer,
      Buffer[],
    ][]
    const out = new Map<number, WireBroadcast>()
    for (const [id, values] of entries) {
      const value = values[1]
      if (value === undefined) continue
      try {
        out.set(Number(id.toString().slice(2)), decodeBroadcast(value).wire)
      } catch (error) {
        this.#stats.malformed++
        this.#failed('decode a logged broadcast', error)
      }
    }
    return out
  }

  // ——— outgoing ———

  async #sendBatch(batch: Buffer[]): Promise<string> {
    this.#stats.published += batch.length
    const [epoch] = (await this.#cmd.wkPublish(
      this.#keys.seq,
      this.#keys.epoch,
      this.#keys.log,
      candidateEpoch(),
      this.#options.logLength ?? 100_000,
      this.#keys.broadcast,
      this.#sharded ? '1' : '0',
      ...batch,
    )) as [string, number]
    return epoch
  }

  #publish(channel: string, message: string | Buffer): Promise<number> {
    if (!this.#usable)
      return Promise.reject(new MessagingError(ErrorCodes.ADAPTER_UNAVAILABLE, 'Redis is unreachable'))
    return (
      this.#sharded ? this.#cmd.spublish(channel, message) : this.#cmd.publish(channel, message)
    ) as Promise<number>
  }

  #publishControl(message: object): void {
    this.#publish(this.#keys.control, JSON.stringify(message)).catch((error) =>
      this.#failed('publish a control message', error),
    )
  }

  broadcast(message: BroadcastMessage, target: BroadcastTarget): void {
    if (this.#closed) return
    if (message.volatile) {
      for (const peer of this.#rooms.audience(target)) peer.deliver(message)
      const bytes = encodeBroadcast({ message, target, origin: this.node, originSeq: 0 })
      if (!this.#usable) {
        this.#stats.dropped++
        return
      }
      this.#publish(this.#keys.broadcast, volatileBatch(bytes)).catch(() => this.#stats.dropped++)
      return
    }
    const originSeq = ++this.#originSeq
    // Every node (this one too) delivers when Redis echoes it back, in the global order.
    this.#publisher.publish({
      originSeq,
      bytes: encodeBroadcast({ message, target, origin: this.node, originSeq }),
    })
  }

  // ——— rooms and presence ———

  addPeer(peer: AdapterPeer): void {
    this.#rooms.add(peer)
  }

  removePeer(peer: AdapterPeer): void {
    this.#rooms.remove(peer)
  }

  join(peer: AdapterPeer, room: string): void {
    if (this.#rooms.join(peer, room)) this.#store?.roomsChanged(peer.id)
  }

  leave(peer: AdapterPeer, room: string): void {
    if (this.#rooms.leave(peer, room)) this.#store?.roomsChanged(peer.id)
  }

  roomsOf(peer: AdapterPeer): ReadonlySet<string> {
    return this.#rooms.roomsOf(peer)
  }

  peersIn(room: string | undefined): Iterable<AdapterPeer> {
    return this.#rooms.peersIn(room)
  }

  #roomsOfId(id: string): string[] {
    for (const peer of this.#rooms.peersIn(id)) {
      if (peer.id === id) return [...this.#rooms.roomsOf(peer)].filter((room) => room !== id)
    }
    return []
  }

  /**
   * Sessions in `room` on every node (all sessions when undefined), connected or retained.
   * Rejects with WK_ADAPTER_UNAVAILABLE during an outage, WK_REQUEST_TIMEOUT if a node does not answer.
   */
  fetchPeers(room?: string, options: { timeout?: number } = {}): Promise<PeerInfo[]> {
    const timeout = options.timeout ?? this.#options.presenceTimeout ?? 2_000
    return this.#presence.ask(room, timeout, (question) => this.#publish(this.#keys.control, question))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#publisher.flushNow()
    this.#closed = true
    this.#usable = false
    this.#sequencer.close()
    this.#presence.close()
    await this.sessions.close()
    this.#rooms.clear()
    for (const wake of this.#usableWaiters) wake(false)
    this.#usableWaiters.clear()
    this.#sub.disconnect()
    await this.#cmd.quit().catch(() => this.#cmd.disconnect())
  }
}

/** A random epoch a node proposes; the first one Redis sees wins until Redis loses its data. */
function candidateEpoch(): string {
  return randomBytes(6).toString('hex')
}
