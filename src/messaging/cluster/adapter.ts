// The adapter interface: where rooms, broadcasts and resumable session state live.
// MemoryAdapter (the default) keeps everything in this process; a distributed adapter (Redis, issue 6)
// fans broadcasts out to other nodes and keeps sessions where any node can resume them.
//
// Hot path rule: the connected node always works on its live session in memory. A store that keeps
// live objects (memory) sets `tracksChanges: false` and is never called per message; a store that
// keeps copies (Redis) sets it true and receives one `update` per session per flush (a batch of
// messages), which it may batch further (pipelines). The server never awaits the store on the hot path.

import type { Format, Kind } from '../wire/envelope.ts'
import type { Body } from '../wire/payload-codec.ts'

/** One session as `fetchPeers` reports it. */
export type PeerInfo = {
  id: string
  /** The node holding the session (the adapter's `node`). */
  node: string
  /** Whether its client is connected now (false: retained, waiting for a resume). */
  connected: boolean
  /**
   * What `authenticate` returned for it (undefined without `authenticate`). From another node it
   * arrives through JSON: an identity JSON cannot carry arrives as undefined.
   */
  identity: unknown
}

/** What the server knows of a resuming client when it asks the store for its session. */
export type ClaimContext = {
  /**
   * Highest sequence number the client received from the server. A snapshot that never sent that far
   * is stale (older than what the client saw): the store answers undefined and the session is lost.
   */
  lastReceived: number
  /** The resume token the client presented (the session's own, if it is the owner). */
  token: string
  /** What `authenticate` returned for the resuming client (undefined without `authenticate`). */
  identity: unknown
}

/** A message addressed to many peers, encoded once and shared by all of them. */
export type BroadcastMessage = {
  event: string
  format: Format
  body: Body
  /** Volatile broadcasts skip the outbox: dropped for peers that are not connected. */
  volatile: boolean
}

/** Which peers a broadcast reaches: in any of `rooms` (every peer when undefined) and in none of `except`. */
export type BroadcastTarget = {
  rooms: ReadonlySet<string> | undefined
  except: ReadonlySet<string> | undefined
}

/** What an adapter sees of a peer connected (or retained) on this node. */
export interface AdapterPeer {
  readonly id: string
  /** Whether its client is connected now (false: retained, waiting for a resume). */
  readonly connected: boolean
  /** What `authenticate` returned for it (presence reports it). */
  readonly identity?: unknown
  /** Queues a broadcast message for this peer (reliable unless `message.volatile`). */
  deliver(message: BroadcastMessage): void
}

/** A stored reliable message not yet acknowledged by the client. */
export type StoredMessage = {
  seq: number
  kind: Kind
  flags: number
  id: number
  name: string
  format: Format
  body: Body
  bodyBytes: number
  size: number
}

/** Everything a node needs to resume a session it has never seen. */
export type SessionSnapshot = {
  id: string
  identity: unknown
  /** SHA-256 (hex) of the session's resume token: stores keep this, never the token. */
  tokenDigest: string
  /** Next sequence number the server will use towards the client. */
  nextSeq: number
  /** Highest sequence number the server received from the client. */
  lastReceived: number
  rooms: string[]
  /** Server → client messages not yet acknowledged, oldest first (within the outbox caps). */
  unacknowledged: StoredMessage[]
}

/** What changed in a session since the previous update: one call per session per flush. */
export type SessionChange = {
  appended: StoredMessage[]
  /** The client acknowledged everything up to here: stored messages up to it can go. */
  acked: number
  lastReceived: number
  nextSeq: number
}

/** A session live on this node, as a store sees it. */
export interface LiveSession {
  readonly id: string
  snapshot(): SessionSnapshot
  /** The store dropped the session (retention expired): the server ends it. */
  expire(): void
}

export interface SessionStore {
  /** Whether the server must report changes with `update` (a store of copies). */
  readonly tracksChanges: boolean
  /**
   * A session starts (or is restored) on this node. `retention` is the server's: how long it stays
   * resumable once disconnected (a store of copies can set its TTLs from it at once).
   */
  open(session: LiveSession, retention: number): void
  /** Changes since the last call; only when `tracksChanges`. Must not throw; may buffer. */
  update(session: LiveSession, change: SessionChange): void
  /** The session lost its connection: keep it resumable for `retention` ms, then `expire()` it. */
  detach(session: LiveSession, retention: number): void
  /** The session's connection came back on this node (its retention timer stops). */
  attach(session: LiveSession): void
  /**
   * A client asks to resume `id`. Returns the live session (this node has it), a snapshot (another node
   * had it: this node now owns it) or undefined (unknown or expired: the session is lost). A store of
   * copies moves ownership only when `context.token` matches the stored digest and `context.identity`
   * the stored identity: a refused claim must leave the owner undisturbed. The server checks both again.
   */
  claim(
    id: string,
    context?: ClaimContext,
  ): LiveSession | SessionSnapshot | undefined | Promise<LiveSession | SessionSnapshot | undefined>
  /** The session ended for good. */
  delete(id: string): void
  close(): void | Promise<void>
}

/** Rooms, broadcast and session storage for a MessageServer. */
export interface MessagingAdapter {
  readonly sessions: SessionStore
  /** A peer appears on this node; it is in the room named by its id. */
  addPeer(peer: AdapterPeer): void
  /** A peer's session ended: it leaves every room. */
  removePeer(peer: AdapterPeer): void
  join(peer: AdapterPeer, room: string): void
  leave(peer: AdapterPeer, room: string): void
  /** The rooms a local peer is in (its own id included). */
  roomsOf(peer: AdapterPeer): ReadonlySet<string>
  /** Local peers in `room` (all local peers when undefined). */
  peersIn(room: string | undefined): Iterable<AdapterPeer>
  /** Delivers to every matching peer, on this node and (for a distributed adapter) on the others. */
  broadcast(message: BroadcastMessage, target: BroadcastTarget): void
  /** Sessions in `room` (every session when undefined), connected or retained, on every node. */
  fetchPeers?(room?: string, options?: { timeout?: number }): Promise<PeerInfo[]>
  close(): void | Promise<void>
}
