// Which of this node's peers are in which room: the one index both adapters keep (MemoryAdapter for the
// process, RedisAdapter for this node's share of the cluster), and the one rule that picks a broadcast's
// audience (in any of `rooms`, in none of `except`), also used by a resumed session's catch-up.
// Every peer is in the room named by its id; that room is looked up, not stored, which keeps two sets
// and two map entries per idle connection out of memory. Peers cannot join an id room (names with ~).

import type { AdapterPeer, BroadcastTarget } from '../adapter.ts'

/** Whether a peer in `mine` (its own room included) is in the audience of `target`. */
export function inAudience(mine: ReadonlySet<string>, target: BroadcastTarget): boolean {
  const { rooms, except } = target
  if (except !== undefined) for (const room of except) if (mine.has(room)) return false
  if (rooms === undefined) return true
  for (const room of rooms) if (mine.has(room)) return true
  return false
}

export class RoomIndex {
  /** Peers by id: also the members of every peer's own room. */
  #all = new Map<string, AdapterPeer>()
  #rooms = new Map<string, Set<AdapterPeer>>()
  /** The rooms each peer joined (its own room not included); only peers in some room have an entry. */
  #roomsOf = new Map<AdapterPeer, Set<string>>()

  add(peer: AdapterPeer): void {
    this.#all.set(peer.id, peer)
  }

  /** Takes `peer` out of every room. A newer peer of the same id (a resumed session) keeps its place. */
  remove(peer: AdapterPeer): void {
    if (this.#all.get(peer.id) === peer) this.#all.delete(peer.id)
    const rooms = this.#roomsOf.get(peer)
    if (rooms === undefined) return
    for (const room of rooms) this.#removeFrom(room, peer)
    this.#roomsOf.delete(peer)
  }

  /** Adds `peer` to `room`; returns whether it was not there yet (its own room: always there). */
  join(peer: AdapterPeer, room: string): boolean {
    if (room === peer.id) return false
    let rooms = this.#roomsOf.get(peer)
    if (rooms === undefined) this.#roomsOf.set(peer, (rooms = new Set()))
    if (rooms.has(room)) return false
    rooms.add(room)
    let members = this.#rooms.get(room)
    if (members === undefined) this.#rooms.set(room, (members = new Set()))
    members.add(peer)
    return true
  }

  /** Takes `peer` out of `room`; returns whether it was there (its own room cannot be left). */
  leave(peer: AdapterPeer, room: string): boolean {
    const rooms = this.#roomsOf.get(peer)
    if (rooms === undefined || !rooms.delete(room)) return false
    if (rooms.size === 0) this.#roomsOf.delete(peer)
    this.#removeFrom(room, peer)
    return true
  }

  #removeFrom(room: string, peer: AdapterPeer): void {
    const members = this.#rooms.get(room)
    if (members === undefined) return
    members.delete(peer)
    if (members.size === 0) this.#rooms.delete(room)
  }

  /** The rooms `peer` is in, its own room first (a new set: the caller may keep it). */
  roomsOf(peer: AdapterPeer): ReadonlySet<string> {
    const joined = this.#roomsOf.get(peer)
    return joined === undefined ? new Set([peer.id]) : new Set([peer.id, ...joined])
  }

  /** The peers in `room`, or every peer when undefined. */
  peersIn(room: string | undefined): Iterable<AdapterPeer> {
    if (room === undefined) return this.#all.values()
    const members = this.#rooms.get(room)
    if (members !== undefined) return members
    const own = this.#all.get(room)
    return own === undefined ? [] : [own]
  }

  /** The audience of a broadcast on this node; a peer in several of the rooms appears once. */
  audience(target: BroadcastTarget): Iterable<AdapterPeer> {
    const { rooms, except } = target
    if (rooms === undefined) {
      // A copy: delivering may cut a slow peer, which leaves the index while we iterate.
      const all = [...this.#all.values()]
      return except === undefined ? all : all.filter((peer) => !this.#excluded(peer, except))
    }
    const out = new Set<AdapterPeer>()
    for (const room of rooms) {
      for (const peer of this.peersIn(room))
        if (except === undefined || !this.#excluded(peer, except)) out.add(peer)
    }
    return out
  }

  #excluded(peer: AdapterPeer, except: ReadonlySet<string>): boolean {
    if (except.has(peer.id)) return true
    const mine = this.#roomsOf.get(peer)
    if (mine === undefined) return false
    for (const room of except) if (mine.has(room)) return true
    return false
  }

  /** Peers in the index. */
  get size(): number {
    return this.#all.size
  }

  clear(): void {
    this.#all.clear()
    this.#rooms.clear()
    this.#roomsOf.clear()
  }
}
