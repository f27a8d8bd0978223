// The rooms of the peers on this node, and the one rule that picks a broadcast's audience
// (in any of `rooms`, in none of `except`), shared by live delivery and by a resumed session's catch-up.

import type { AdapterPeer, BroadcastTarget } from '../adapter.ts'

/** Whether a peer in `mine` is in the audience of `target`. */
export function inAudience(mine: ReadonlySet<string>, target: BroadcastTarget): boolean {
  const { rooms, except } = target
  if (except !== undefined) for (const room of except) if (mine.has(room)) return false
  if (rooms === undefined) return true
  for (const room of rooms) if (mine.has(room)) return true
  return false
}

export class LocalRooms {
  #all = new Set<AdapterPeer>()
  #rooms = new Map<string, Set<AdapterPeer>>()
  #roomsOf = new Map<AdapterPeer, Set<string>>()

  add(peer: AdapterPeer): void {
    this.#all.add(peer)
    this.join(peer, peer.id)
  }

  remove(peer: AdapterPeer): void {
    this.#all.delete(peer)
    const rooms = this.#roomsOf.get(peer)
    if (rooms === undefined) return
    for (const room of rooms) this.#removeFrom(room, peer)
    this.#roomsOf.delete(peer)
  }

  join(peer: AdapterPeer, room: string): boolean {
    let rooms = this.#roomsOf.get(peer)
    if (rooms === undefined) this.#roomsOf.set(peer, (rooms = new Set()))
    if (rooms.has(room)) return false
    rooms.add(room)
    let members = this.#rooms.get(room)
    if (members === undefined) this.#rooms.set(room, (members = new Set()))
    members.add(peer)
    return true
  }

  leave(peer: AdapterPeer, room: string): boolean {
    const rooms = this.#roomsOf.get(peer)
    if (rooms === undefined || !rooms.delete(room)) return false
    this.#removeFrom(room, peer)
    return true
  }

  #removeFrom(room: string, peer: AdapterPeer): void {
    const members = this.#rooms.get(room)
    if (members === undefined) return
    members.delete(peer)
    if (members.size === 0) this.#rooms.delete(room)
  }

  roomsOf(peer: AdapterPeer): ReadonlySet<string> {
    return this.#roomsOf.get(peer) ?? EMPTY
  }

  peersIn(room: string | undefined): Iterable<AdapterPeer> {
    if (room === undefined) return this.#all
    return this.#rooms.get(room) ?? []
  }

  /** The local audience of a broadcast; a peer in several of the rooms appears once. */
  audience(target: BroadcastTarget): Iterable<AdapterPeer> {
    const { rooms, except } = target
    if (rooms === undefined) {
      if (except === undefined) return [...this.#all]
      return [...this.#all].filter((peer) => inAudience(this.roomsOf(peer), target))
    }
    const out = new Set<AdapterPeer>()
    for (const room of rooms) {
      const members = this.#rooms.get(room)
      if (members === undefined) continue
      for (const peer of members)
        if (except === undefined || inAudience(this.roomsOf(peer), target)) out.add(peer)
    }
    return out
  }

  get size(): number {
    return this.#all.size
  }

  clear(): void {
    this.#all.clear()
    this.#rooms.clear()
    this.#roomsOf.clear()
  }
}

const EMPTY: ReadonlySet<string> = new Set()
