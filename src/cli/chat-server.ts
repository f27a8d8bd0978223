// The chat behind `wirekit serve`, built on a MessageServer: nicknames unique per server, rooms, lines,
// /me actions, who-is-here, and honest presence. A client whose connection drops (killed, cable pulled)
// is announced as gone and leaves `who` as soon as the server notices (the peer's 'detached' event),
// not when its session's retention runs out; if it resumes, it is announced back.
//
// Client → server: credentials { name, token }; requests 'say' { room, text, me?, ref? } (answered
// { room, offset } once the line is stored: committed to SQLite, accepted by Redis or memory), 'join' room
// (or { room, subscribed: true }), 'leave' room, 'who' room, 'rooms', 'nick' name, 'history' room; the
// event 'say' (same data) is still taken from older clients, a refusal coming back as a notice.
// Server → client: 'message' ChatLine, 'system' Notice.
//
// A line sent again with the same `ref` (its answer never arrived) is stored once: the second copy gets
// the first one's answer (chat-refs.ts; the index is read back from the log after a restart).
//
// Every room's lines go through a durable log (the durable room `chat:<room>`, see logRoom): a line is
// appended first, then sent to the room's members with its offset. A client can read the log two ways:
// `history` (the last 50 lines, for a page that just joined) or `client.subscribe(logRoom(room),
// { recover: true })` (every line, exactly once, across reconnects and server restarts; `wirekit chat`
// does this, and joins with `subscribed: true` so it does not get each line twice). Chat rooms are public
// (anyone may join any room), so reading a room's log is open to every signed-in client, exactly as
// joining it is; durable rooms outside the chat are refused.

import type { MessageServer, Peer } from '../messaging/index.ts'
import { ChatRefs } from './chat-refs.ts'
import {
  checkLine,
  checkName,
  checkRoom,
  LOG_PREFIX,
  logRoom,
  MAX_NICKS_PER_MINUTE,
  MAX_ROOMS_PER_CLIENT,
  NICKS_RULE,
  nameKey,
  ROOMS_RULE,
  UNIQUE_RULE,
} from './chat-rules.ts'
import { inert } from './inert.ts'

/**
 * A chat line as it travels to clients. `me`: an action (`/me waves`). `offset`: its place in the room's
 * log (1, 2, 3…), on every line the server sends; a client that has seen an offset has seen that line.
 */
export type ChatLine = {
  room: string
  from: string
  text: string
  at: number
  me?: boolean
  offset?: number
  /** The log's incarnation `offset` counts in: another epoch is another log (a server without --data restarted). */
  epoch?: string
  /**
   * The sender's own mark for the line (the browser page sets one per typed line), sent back as given:
   * the sender knows its line arrived when it comes back, or is in the history after a server restart.
   */
  ref?: string
}
/** A server notice: to a room (joins, leaves) or, without `room`, to one client (a refusal). */
/** `ref`: on a refusal of a line, that line's `ref` (see ChatLine). */
export type ChatNotice = { room?: string; text: string; at: number; ref?: string }
/** A room and how many connected people are in it. */
export type RoomInfo = { room: string; members: number }

/** What `authenticate` returns: the display name, and the client's own secret that owns that name. */
type Identity = { name: string; token: string }
/** Per-peer chat state, in `peer.data`. */
type Member = { identity: Identity; rooms: Set<string>; away: boolean; renamed: number[] }

/** Presence: every member (who, notices). */
const ROOM_PREFIX = 'room:'
/** Members that read the lines from the log by subscription: lines are not sent to them as events. */
const SUBSCRIBED_PREFIX = 'sub:'
/** A line's `ref`: short, and only characters that cannot mean anything anywhere. */
const REF = /^[A-Za-z0-9_-]{1,40}$/
/** Lines returned by the `history` request. */
const HISTORY_LINES = 50

export type ChatServerOptions = { log?: (line: string) => void }

/**
 * Adds the chat to `server`. Returns the `authenticate` function to give the MessageServer (it checks
 * the nickname rule and that the name is free).
 */
export class ChatService {
  readonly #server: MessageServer
  readonly #log: (line: string) => void
  /** nameKey → the peer holding that name. */
  readonly #names = new Map<string, Peer>()
  /** The refs each room's log holds: a line sent twice is stored once. */
  readonly #refs: ChatRefs

  constructor(server: MessageServer, options: ChatServerOptions = {}) {
    this.#server = server
    this.#log = options.log ?? (() => {})
    this.#refs = new ChatRefs({ load: (room, last) => this.#storedRefs(room, last) })
    server.on('connection', (peer: Peer) => this.#connected(peer))
    server.handle('join', (room: unknown, peer: Peer) => this.#join(peer, room))
    server.handle('leave', (room: unknown, peer: Peer) => this.#leave(peer, room))
    server.handle('who', (room: unknown) => this.#who(room))
    server.handle('rooms', () => this.#rooms())
    server.handle('nick', (name: unknown, peer: Peer) => this.#nick(peer, name))
    server.handle('history', (room: unknown) => this.#history(room))
    server.handle('say', (line: unknown, peer: Peer) => this.#say(peer, line))
    server.authorizeSubscribe((_peer, room) => isLogRoom(room))
  }

  /** For MessageServerOptions.authenticate: the identity, or a throw whose message states the rule. */
  authenticate = (credentials: unknown): Identity => {
    const given = credentials as { name?: unknown; token?: unknown } | undefined
    const checked = checkName(given?.name)
    if (!checked.ok) throw new Error(`invalid nickname: ${checked.reason}`)
    const token = typeof given?.token === 'string' && given.token.length <= 128 ? given.token : ''
    const holder = this.#names.get(nameKey(checked.value))
    if (holder?.connected && !sameOwner(member(holder).identity.token, token)) throw taken(checked.value)
    return { name: checked.value, token }
  }

  #connected(peer: Peer): void {
    const identity = peer.identity as Identity
    const state: Member = {
      identity,
      rooms: new Set([...peer.rooms].filter((r) => r.startsWith(ROOM_PREFIX))),
      away: false,
      renamed: [],
    }
    peer.data = state
    if (!this.#claim(peer, identity.name)) {
      peer.disconnect(`the name "${identity.name}" was taken a moment ago; ${UNIQUE_RULE}`)
      return
    }
    this.#log(`+ ${inert(identity.name)} (${peer.id})`)
    // Older clients emit their lines: the same path, a refusal told as a notice.
    peer.on('say', (line: unknown) =>
      this.#say(peer, line).catch((error: Error) => this.#tell(peer, error.message, refOf(line))),
    )
    peer.on('detached', () => {
      // A client's BYE detaches its connection just before the session ends: wait a turn, and a /quit
      // is announced as "quit", a lost connection as such.
      setImmediate(() => {
        if (peer.closed || peer.connected) return
        state.away = true
        this.#log(`~ ${inert(identity.name)} connection lost`)
        this.#announce(state.rooms, `${identity.name} left (connection lost)`)
      })
    })
    peer.on('resume', () => {
      if (!state.away) return
      state.away = false
      this.#log(`~ ${inert(identity.name)} back`)
      this.#announce(state.rooms, `${identity.name} is back`)
    })
    peer.on('close', () => {
      if (this.#names.get(nameKey(identity.name)) === peer) this.#names.delete(nameKey(identity.name))
      this.#log(`- ${inert(identity.name)} (${peer.id})`)
      if (!state.away) this.#announce(state.rooms, `${identity.name} quit`)
    })
  }

  /** Gives `name` to `peer`. A holder that is connected keeps it; one whose connection is gone loses it. */
  #claim(peer: Peer, name: string): boolean {
    const key = nameKey(name)
    const holder = this.#names.get(key)
    if (holder !== undefined && holder !== peer) {
      const same = sameOwner(member(holder).identity.token, member(peer).identity.token)
      if (holder.connected && !same) return false
      // The same client on a new session, or someone taking a name whose owner has vanished.
      this.#names.delete(key)
      holder.disconnect(same ? 'replaced by a new session' : `the name "${name}" was taken by a new client`)
    }
    this.#names.set(key, peer)
    return true
  }

  async #join(peer: Peer, input: unknown): Promise<{ room: string; members: string[]; log: string }> {
    const given = typeof input === 'object' && input !== null ? (input as Record<string, unknown>) : {}
    const room = checkRoom(typeof input === 'string' ? input : given.room)
    if (!room.ok) throw new Error(`cannot join: ${room.reason}`)
    const state = member(peer)
    if (!state.rooms.has(room.value) && state.rooms.size >= MAX_ROOMS_PER_CLIENT)
      throw new Error(`cannot join #${room.value}: ${ROOMS_RULE}`)
    // A subscriber reads the lines from the log; sending them as events as well would show each twice.
    if (given.subscribed === true) peer.join(SUBSCRIBED_PREFIX + room.value)
    else peer.leave(SUBSCRIBED_PREFIX + room.value)
    if (!state.rooms.has(room.value)) {
      state.rooms.add(room.value)
      peer.join(ROOM_PREFIX + room.value)
      this.#announce([room.value], `${state.identity.name} joined #${room.value}`)
    }
    return { room: room.value, members: await this.#who(room.value), log: logRoom(room.value) }
  }

  #leave(peer: Peer, input: unknown): { room: string } {
    const room = checkRoom(input)
    if (!room.ok) throw new Error(`cannot leave: ${room.reason}`)
    const state = member(peer)
    peer.leave(SUBSCRIBED_PREFIX + room.value)
    if (state.rooms.delete(room.value)) {
      peer.leave(ROOM_PREFIX + room.value)
      this.#announce([room.value], `${state.identity.name} left #${room.value}`)
    }
    return { room: room.value }
  }

  /** Everyone connected in the room, on every node (with --redis). Retained, disconnected sessions are not "here". */
  async #who(input: unknown): Promise<string[]> {
    const room = checkRoom(input)
    if (!room.ok) throw new Error(room.reason)
    const peers = await this.#server.fetchPeers(ROOM_PREFIX + room.value)
    return peers
      .filter((p) => p.connected)
      .map((p) => String((p.identity as Partial<Identity> | undefined)?.name ?? '?'))
      .sort()
  }

  /** Rooms with people connected in them, on this node. */
  #rooms(): RoomInfo[] {
    const counts = new Map<string, number>()
    for (const peer of this.#server.peers.values()) {
      if (!peer.connected || peer.data === undefined) continue
      for (const room of member(peer).rooms) counts.set(room, (counts.get(room) ?? 0) + 1)
    }
    return [...counts]
      .map(([room, members]) => ({ room, members }))
      .sort((a, b) => (a.room < b.room ? -1 : 1))
  }

  /** The last lines of a room's log, oldest first, each with its offset. */
  async #history(input: unknown): Promise<ChatLine[]> {
    const room = checkRoom(input)
    if (!room.ok) throw new Error(`no history: ${room.reason}`)
    const entries = await this.#server.history(logRoom(room.value), { last: HISTORY_LINES })
    const lines: ChatLine[] = []
    for (const entry of entries) {
      if (entry.name !== 'message' || typeof entry.data !== 'object' || entry.data === null) continue
      lines.push({ ...(entry.data as ChatLine), offset: entry.offset, epoch: entry.epoch })
    }
    return lines
  }

  #nick(peer: Peer, input: unknown): { name: string } {
    const checked = checkName(input)
    if (!checked.ok) throw new Error(`invalid nickname: ${checked.reason}`)
    const state = member(peer)
    const now = Date.now()
    state.renamed = state.renamed.filter((at) => now - at < 60_000)
    if (state.renamed.length >= MAX_NICKS_PER_MINUTE) throw new Error(`cannot change nickname: ${NICKS_RULE}`)
    const old = state.identity.name
    if (nameKey(old) !== nameKey(checked.value) && !this.#claim(peer, checked.value))
      throw taken(checked.value)
    if (this.#names.get(nameKey(old)) === peer && nameKey(old) !== nameKey(checked.value))
      this.#names.delete(nameKey(old))
    // The identity object is the one the session compares on resume; the client resumes with the new name.
    state.identity.name = checked.value
    this.#names.set(nameKey(checked.value), peer)
    if (old !== checked.value) {
      state.renamed.push(now)
      this.#announce(state.rooms, `${old} is now known as ${checked.value}`)
    }
    return { name: checked.value }
  }

  /** Stores the line in the room's log, then sends it to the room; resolves with its offset once stored. */
  async #say(peer: Peer, input: unknown): Promise<{ room: string; offset: number }> {
    const line = input as { room?: unknown; text?: unknown; me?: unknown } | undefined
    const room = checkRoom(line?.room)
    const text = checkLine(line?.text)
    const ref = refOf(input)
    if (!room.ok || !text.ok)
      throw new Error(`line refused: ${room.ok ? (text as { reason: string }).reason : room.reason}`)
    const state = member(peer)
    // Saying into a room makes one present in it: after a server restart a client's queued lines can
    // arrive before its new `join`.
    if (!state.rooms.has(room.value)) {
      if (state.rooms.size >= MAX_ROOMS_PER_CLIENT) throw new Error(`line refused: ${ROOMS_RULE}`)
      state.rooms.add(room.value)
      peer.join(ROOM_PREFIX + room.value)
    }
    const out: ChatLine = { room: room.value, from: state.identity.name, text: text.value, at: Date.now() }
    if (line?.me === true) out.me = true
    if (ref !== undefined) out.ref = ref
    // Logged first: a member who is away reads it from the log when it comes back.
    const store = async () => {
      const { offset, epoch } = await this.#server.publish(logRoom(room.value), 'message', out)
      this.#server
        .to(ROOM_PREFIX + room.value)
        .except(SUBSCRIBED_PREFIX + room.value)
        .emit('message', { ...out, offset, epoch })
      return offset
    }
    try {
      const offset =
        ref === undefined ? await store() : (await this.#refs.once(room.value, ref, store)).offset
      return { room: room.value, offset }
    } catch (error) {
      this.#log(`! history: ${inert((error as Error).message)}`)
      throw new Error(`line NOT delivered (the server could not store it): ${text.value}`)
    }
  }

  /** The refs of the room's last lines, from its log (what a restarted server knows it has stored). */
  async #storedRefs(room: string, last: number): Promise<{ ref: string; offset: number }[]> {
    const entries = await this.#server.history(logRoom(room), { last })
    const refs: { ref: string; offset: number }[] = []
    for (const entry of entries) {
      const ref = refOf(entry.data)
      if (entry.name === 'message' && ref !== undefined) refs.push({ ref, offset: entry.offset })
    }
    return refs
  }

  #announce(rooms: Iterable<string>, text: string): void {
    for (const room of rooms) {
      const notice: ChatNotice = { room, text, at: Date.now() }
      this.#server.to(ROOM_PREFIX + room).emit('system', notice)
    }
  }

  #tell(peer: Peer, text: string, ref?: string): void {
    const notice: ChatNotice = { text, at: Date.now() }
    if (ref !== undefined) notice.ref = ref
    peer.emit('system', notice).catch(() => {})
  }
}

/** The line's `ref` when it has a valid one. */
function refOf(line: unknown): string | undefined {
  const ref = (line as { ref?: unknown } | undefined)?.ref
  return typeof ref === 'string' && REF.test(ref) ? ref : undefined
}

/** True for the durable room of a chat room (`chat:` + a room name as checkRoom returns it). */
function isLogRoom(room: string): boolean {
  if (!room.startsWith(LOG_PREFIX)) return false
  const checked = checkRoom(room.slice(LOG_PREFIX.length))
  return checked.ok && LOG_PREFIX + checked.value === room
}

/** Two sessions belong to one client when they carry the same token; clients without one never match. */
function sameOwner(a: string, b: string): boolean {
  return a !== '' && a === b
}

function member(peer: Peer): Member {
  return peer.data as Member
}

function taken(name: string): Error {
  return new Error(`the nickname "${name}" is taken (or looks the same as one in use); ${UNIQUE_RULE}`)
}
