// The default adapter: rooms, broadcast and sessions in this process's memory.
// Sessions are kept as live objects, so the store costs nothing per message; a disconnected session
// waits `retention` ms (checked by a shared sweeper, not a timer per session) and then expires.

import { randomBytes } from 'node:crypto'
import { type Sweepable, type Sweeper, sweeperFor } from '../heartbeat.ts'
import type {
  AdapterPeer,
  BroadcastMessage,
  BroadcastTarget,
  LiveSession,
  MessagingAdapter,
  PeerInfo,
  SessionChange,
  SessionSnapshot,
  SessionStore,
} from './adapter.ts'
import { RoomIndex } from './rooms/room-index.ts'

type Retained = { session: LiveSession; expiresAt: number }

/** Sessions in memory: resumable on this node, lost when the process restarts. */
export class MemorySessionStore implements SessionStore, Sweepable {
  readonly tracksChanges = false
  #live = new Map<string, LiveSession>()
  #detached = new Map<string, Retained>()
  #sweeper: Sweeper | undefined

  open(session: LiveSession): void {
    this.#live.set(session.id, session)
  }

  update(_session: LiveSession, _change: SessionChange): void {}

  detach(session: LiveSession, retention: number): void {
    if (!this.#live.has(session.id)) return
    this.#detached.set(session.id, { session, expiresAt: Date.now() + retention })
    if (this.#sweeper === undefined) {
      this.#sweeper = sweeperFor(Math.max(retention, 64))
      this.#sweeper.add(this)
    }
  }

  attach(session: LiveSession): void {
    this.#detached.delete(session.id)
  }

  claim(id: string): LiveSession | SessionSnapshot | undefined {
    return this.#live.get(id)
  }

  delete(id: string): void {
    this.#live.delete(id)
    this.#detached.delete(id)
  }

  /** Sessions held, connected or not. */
  get size(): number {
    return this.#live.size
  }

  sweep(now: number): void {
    for (const [id, retained] of this.#detached) {
      if (now < retained.expiresAt) continue
      this.#detached.delete(id)
      this.#live.delete(id)
      retained.session.expire()
    }
    if (this.#detached.size === 0) {
      this.#sweeper?.delete(this)
      this.#sweeper = undefined
    }
  }

  close(): void {
    this.#sweeper?.delete(this)
    this.#sweeper = undefined
    this.#detached.clear()
    this.#live.clear()
  }
}

/**
 * Rooms and broadcast in one process (the default adapter).
 * @example new MessageServer({ adapter: new MemoryAdapter() })
 */
export class MemoryAdapter implements MessagingAdapter {
  readonly sessions: SessionStore
  /** This node's name in `fetchPeers` results (random, like RedisAdapter's). */
  readonly node = randomBytes(8).toString('hex')
  readonly #rooms = new RoomIndex()

  constructor(sessions: SessionStore = new MemorySessionStore()) {
    this.sessions = sessions
  }

  addPeer(peer: AdapterPeer): void {
    this.#rooms.add(peer)
  }

  removePeer(peer: AdapterPeer): void {
    this.#rooms.remove(peer)
  }

  join(peer: AdapterPeer, room: string): void {
    this.#rooms.join(peer, room)
  }

  leave(peer: AdapterPeer, room: string): void {
    this.#rooms.leave(peer, room)
  }

  roomsOf(peer: AdapterPeer): ReadonlySet<string> {
    return this.#rooms.roomsOf(peer)
  }

  peersIn(room: string | undefined): Iterable<AdapterPeer> {
    return this.#rooms.peersIn(room)
  }

  broadcast(message: BroadcastMessage, target: BroadcastTarget): void {
    for (const peer of this.#rooms.audience(target)) peer.deliver(message)
  }

  /** Sessions in `room` (all when undefined) on this node, connected or retained: there is no other node. */
  async fetchPeers(room?: string): Promise<PeerInfo[]> {
    const out: PeerInfo[] = []
    for (const peer of this.peersIn(room))
      out.push({ id: peer.id, node: this.node, connected: peer.connected, identity: peer.identity })
    return out
  }

  close(): void {
    this.#rooms.clear()
    void this.sessions.close()
  }
}
