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
  // Every peer is implicitly in the room named by its id: looked up here instead of stored as a room,
  // which keeps two sets and two map entries per idle connection out of memory.
  #all = new Map<string, AdapterPeer>()
  #rooms = new Map<string, Set<AdapterPeer>>()
  #roomsOf = new Map<AdapterPeer, Set<string>>()

  constructor(sessions: SessionStore = new MemorySessionStore()) {
    this.sessions = sessions
  }

  addPeer(peer: AdapterPeer): void {
    this.#all.set(peer.id, peer)
  }

  removePeer(peer: AdapterPeer): void {
    if (this.#all.get(peer.id) === peer) this.#all.delete(peer.id)
    const rooms = this.#roomsOf.get(peer)
    if (rooms === undefined) return
    for (const room of rooms) this.#removeFrom(room, peer)
    this.#roomsOf.delete(peer)
  }

  join(peer: AdapterPeer, room: string): void {
    if (room === peer.id) return
    let members = this.#rooms.get(room)
    if (members === undefined) this.#rooms.set(room, (members = new Set()))
    members.add(peer)
    let rooms = this.#roomsOf.get(peer)
    if (rooms === undefined) this.#roomsOf.set(peer, (rooms = new Set()))
    rooms.add(room)
  }

  leave(peer: AdapterPeer, room: string): void {
    this.#removeFrom(room, peer)
    const rooms = this.#roomsOf.get(peer)
    if (rooms === undefined) return
    rooms.delete(room)
    if (rooms.size === 0) this.#roomsOf.delete(peer)
  }

  #removeFrom(room: string, peer: AdapterPeer): void {
    const members = this.#rooms.get(room)
    if (members === undefined) return
    members.delete(peer)
    if (members.size === 0) this.#rooms.delete(room)
  }

  roomsOf(peer: AdapterPeer): ReadonlySet<string> {
    return new Set([peer.id, ...(this.#roomsOf.get(peer) ?? [])])
  }

  peersIn(room: string | undefined): Iterable<AdapterPeer> {
    if (room === undefined) return this.#all.values()
    const members = this.#rooms.get(room)
    if (members !== undefined) return members
    const own = this.#all.get(room)
    return own === undefined ? [] : [own]
  }

  broadcast(message: BroadcastMessage, target: BroadcastTarget): void {
    for (const peer of this.#targets(target)) peer.deliver(message)
  }

  /** Sessions in `room` (all when undefined) on this node, connected or retained: there is no other node. */
  async fetchPeers(room?: string): Promise<PeerInfo[]> {
    const out: PeerInfo[] = []
    for (const peer of this.peersIn(room))
      out.push({ id: peer.id, node: this.node, connected: peer.connected, identity: peer.identity })
    return out
  }

  #excluded(peer: AdapterPeer, except: ReadonlySet<string>): boolean {
    if (except.has(peer.id)) return true
    const mine = this.#roomsOf.get(peer)
    if (mine === undefined) return false
    for (const room of except) if (mine.has(room)) return true
    return false
  }

  #targets(target: BroadcastTarget): Iterable<AdapterPeer> {
    const { rooms, except } = target
    if (rooms === undefined) {
      const all = [...this.#all.values()]
      return except === undefined ? all : all.filter((peer) => !this.#excluded(peer, except))
    }
    // A peer in several of the rooms receives the message once.
    const out = new Set<AdapterPeer>()
    for (const room of rooms) {
      for (const peer of this.peersIn(room))
        if (except === undefined || !this.#excluded(peer, except)) out.add(peer)
    }
    return out
  }

  close(): void {
    this.#all.clear()
    this.#rooms.clear()
    this.#roomsOf.clear()
    void this.sessions.close()
  }
}
