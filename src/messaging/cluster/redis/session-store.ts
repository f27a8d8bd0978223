// Sessions kept in Redis so any node can resume them. The connected node works on its live session;
// this store receives one `update` per session per flush and writes it at once (one script call, no
// await), before the server writes the same flush to the client: what a client has seen or been
// acknowledged is in Redis first. Only the owner may write (a fence in every script); a claim moves
// ownership atomically and brings the session up to date with the broadcasts it missed.

import { BackpressureError, ErrorCodes, MessagingError } from '../../../errors.ts'
import { tokenDigest } from '../../resume-token.ts'
import { Flag, Kind } from '../../wire/envelope.ts'
import { envelopeLength } from '../../wire/frame-writer.ts'
import { bodyLength } from '../../wire/payload-codec.ts'
import type {
  ClaimContext,
  LiveSession,
  SessionChange,
  SessionSnapshot,
  SessionStore,
  StoredMessage,
} from '../adapter.ts'
import { inAudience } from '../rooms/room-index.ts'
import type { Keys, ScriptedRedis } from './scripts.ts'
import type { Sequencer } from './sequencer.ts'
import { decodeBroadcast, decodeStored, encodeStored, type WireBroadcast } from './wire.ts'

/** What the store needs from its adapter. */
export type StoreHost = {
  readonly node: string
  readonly keys: Keys
  readonly redis: ScriptedRedis
  readonly sequencer: Sequencer
  /** Redis is connected and this node follows the broadcast order. */
  readonly usable: boolean
  whenUsable(timeout: number): Promise<boolean>
  /** The rooms of a local session (its own room excluded). */
  roomsOf(id: string): string[]
  /** A claim took `id` from `previous`: tell that node to let go. */
  claimed(id: string, previous: string): void
  failed(what: string, error: unknown): void
}

export type StoreLimits = {
  retention: number
  maxStoredMessages: number
  maxCatchUp: number
  claimTimeout: number
}

type Tracked = {
  session: LiveSession
  /** Sequence number the next appended message must have to follow what was written. */
  storedNext: number
  acked: number
  lastReceived: number
  nextSeq: number
  /** Needs a whole rewrite once Redis is usable (outage, or out of step). */
  resync: boolean
  /** Another node claimed it: never write again. */
  lost: boolean
  /** Too big to keep in Redis: not resumable elsewhere. */
  unstored: boolean
  roomsDirty: boolean
  detachedAt: number | undefined
  retention: number
}

export class RedisSessionStore implements SessionStore {
  readonly tracksChanges = true
  #host: StoreHost
  #limits: StoreLimits
  #tracked = new Map<string, Tracked>()
  #timer: NodeJS.Timeout | undefined
  #touchEvery: number
  #lastTouch = Date.now()
  #roomsPending = false

  constructor(host: StoreHost, limits: StoreLimits) {
    this.#host = host
    this.#limits = limits
    this.#touchEvery = Math.max(200, Math.min(10_000, Math.floor(limits.retention / 3)))
  }

  /** TTL of a connected session: outlives a crashed owner by at least its retention window. */
  #liveTtl(retention: number = this.#limits.retention): number {
    return retention + 2 * this.#touchEvery
  }

  /** Sessions held on this node (connected or retained). */
  get size(): number {
    return this.#tracked.size
  }

  /** `retention` is the server's (the adapter's own option is only the default before this call). */
  open(session: LiveSession, retention: number = this.#limits.retention): void {
    const tracked: Tracked = {
      session,
      storedNext: 0,
      acked: 0,
      lastReceived: 0,
      nextSeq: 0,
      resync: true,
      lost: false,
      unstored: false,
      roomsDirty: false,
      detachedAt: undefined,
      retention: retention > 0 ? retention : this.#limits.retention,
    }
    this.#tracked.set(session.id, tracked)
    this.#ensureTimer()
    if (this.#host.usable) this.#writeWhole(tracked)
  }

  update(session: LiveSession, change: SessionChange): void {
    const t = this.#tracked.get(session.id)
    if (t === undefined || t.lost || t.unstored) return
    if (t.resync || !this.#host.usable) {
      t.resync = true
      return
    }
    const appended = change.appended
    if (
      appended.length === 0 &&
      change.acked === t.acked &&
      change.lastReceived === t.lastReceived &&
      change.nextSeq === t.nextSeq
    )
      return
    if (appended.length > 0 && appended[0]!.seq !== t.storedNext) {
      this.#writeWhole(t)
      return
    }
    const sequencer = this.#host.sequencer
    const args: (string | number | Buffer)[] = [
      this.#host.keys.session(session.id),
      this.#host.keys.messages(session.id),
      this.#host.node,
      t.detachedAt === undefined ? this.#liveTtl(t.retention) : this.#remaining(t),
      change.acked,
      change.lastReceived,
      change.nextSeq,
      sequencer.epoch ?? '',
      sequencer.seen,
      appended.length > 0 ? appended[0]!.seq : 0,
      this.#limits.maxStoredMessages,
    ]
    for (const m of appended) args.push(encodeStored(m))
    t.acked = change.acked
    t.lastReceived = change.lastReceived
    t.nextSeq = change.nextSeq
    if (appended.length > 0) t.storedNext = appended[appended.length - 1]!.seq + 1
    this.#host.redis.wkUpdate(...args).then(
      (result) => this.#written(t, result as number),
      (error) => this.#writeFailed(t, error),
    )
  }

  detach(session: LiveSession, retention: number): void {
    const t = this.#tracked.get(session.id)
    if (t === undefined) return
    t.detachedAt = Date.now()
    t.retention = retention
    this.#touch(t, '')
  }

  attach(session: LiveSession): void {
    const t = this.#tracked.get(session.id)
    if (t === undefined || t.detachedAt === undefined) return
    t.detachedAt = undefined
    this.#touch(t, '')
  }

  async claim(id: string, context?: ClaimContext): Promise<LiveSession | SessionSnapshot | undefined> {
    const local = this.#tracked.get(id)
    if (local !== undefined && !local.lost) return local.session
    const host = this.#host
    if (!(await host.whenUsable(this.#limits.claimTimeout))) {
      throw new MessagingError(ErrorCodes.ADAPTER_UNAVAILABLE, `Cannot resume ${id}: Redis is unavailable`)
    }
    if (context === undefined) return undefined
    // The claim script moves ownership only for the right token and identity (stored as written by
    // #writeWhole): a valid login presenting someone else's id must not take that session from its node.
    const identity = identityJson(context.identity)
    if (identity === undefined) return undefined
    const capture = host.sequencer.capture()
    try {
      const reply = (await host.redis.wkClaimBuffer(
        host.keys.session(id),
        host.keys.messages(id),
        host.keys.log,
        host.keys.epoch,
        host.keys.seq,
        host.node,
        this.#liveTtl(),
        this.#limits.maxCatchUp + 1,
        tokenDigest(context.token),
        identity,
      )) as ClaimReply | null
      if (reply === null) return undefined
      const [previous, fields, stored, epochBuf, lastBuf, log] = reply
      const meta = hashOf(fields)
      const epoch = epochBuf.toString()
      const pos = Number(meta.pos ?? '0')
      const last = Number(lastBuf.toString())
      if (previous.length > 0 && previous.toString() !== host.node) host.claimed(id, previous.toString())
      if (meta.epoch !== epoch || last - pos > this.#limits.maxCatchUp) return undefined
      // Everything up to `pos` is in the stored outbox; wait until this node has delivered it too,
      // so that the live delivery after the resume starts exactly where the catch-up ends.
      if (host.sequencer.epoch !== epoch || !(await host.sequencer.waitFor(pos, this.#limits.claimTimeout)))
        return undefined
      const snapshot = snapshotOf(id, meta, stored)
      // The client saw messages this copy never sent: a stale copy (say Redis kept old data while the
      // owner died during an outage). Resuming from it would renumber what the client already has.
      if (context.lastReceived > snapshot.nextSeq - 1) return undefined
      const missed = this.#missed(pos, log, capture)
      if (missed === undefined) return undefined
      const rooms = new Set(snapshot.rooms)
      rooms.add(id)
      for (const wire of missed) {
        if (wire.message.volatile || !inAudience(rooms, wire.target)) continue
        snapshot.unacknowledged.push(storedOf(snapshot.nextSeq++, wire))
      }
      return snapshot
    } finally {
      host.sequencer.release(capture)
    }
  }

  /** Broadcasts after `pos` up to what this node has delivered, from the log and the capture. */
  #missed(pos: number, log: LogEntry[], capture: Map<number, WireBroadcast>): WireBroadcast[] | undefined {
    const upTo = this.#host.sequencer.seen
    const bySeq = new Map<number, WireBroadcast>()
    for (const [id, values] of log) {
      const seq = Number(id.toString().slice(2))
      if (seq > upTo) break
      const value = values[1]
      if (value === undefined) continue
      try {
        bySeq.set(seq, decodeBroadcast(value).wire)
      } catch (error) {
        this.#host.failed('decode a logged broadcast', error)
      }
    }
    for (const [seq, wire] of capture) if (seq > pos && seq <= upTo) bySeq.set(seq, wire)
    const out: WireBroadcast[] = []
    for (let seq = pos + 1; seq <= upTo; seq++) {
      const wire = bySeq.get(seq)
      // A hole means the log was trimmed past this session's position: it cannot be brought up to date.
      if (wire === undefined) return undefined
      out.push(wire)
    }
    return out
  }

  delete(id: string): void {
    const t = this.#tracked.get(id)
    if (t === undefined) return
    this.#tracked.delete(id)
    if (t.lost || !this.#host.usable) return
    this.#host.redis
      .wkDelete(this.#host.keys.session(id), this.#host.keys.messages(id), this.#host.node)
      .catch((error) => this.#host.failed('delete a session', error))
  }

  /** Another node claimed `id`: end the local copy without touching Redis. */
  release(id: string): void {
    const t = this.#tracked.get(id)
    if (t === undefined || t.lost) return
    t.lost = true
    t.session.expire()
  }

  /** A session's rooms changed: written with the next touch round (same event-loop turn). */
  roomsChanged(id: string): void {
    const t = this.#tracked.get(id)
    if (t === undefined || t.lost || t.unstored) return
    t.roomsDirty = true
    if (this.#roomsPending) return
    this.#roomsPending = true
    setImmediate(() => {
      this.#roomsPending = false
      for (const tracked of this.#tracked.values()) {
        if (!tracked.roomsDirty) continue
        tracked.roomsDirty = false
        this.#touch(tracked, JSON.stringify(this.#host.roomsOf(tracked.session.id)))
      }
    })
  }

  /** Redis is usable again: rewrite every session that missed writes. */
  resyncAll(): void {
    for (const t of this.#tracked.values()) if (t.resync && !t.lost && !t.unstored) this.#writeWhole(t)
  }

  /** Every session needs a rewrite (Redis lost its data). */
  markAllStale(): void {
    for (const t of this.#tracked.values()) t.resync = true
  }

  #writeWhole(t: Tracked): void {
    if (!this.#host.usable) {
      t.resync = true
      return
    }
    const snapshot = t.session.snapshot()
    let identity: string
    try {
      identity = snapshot.identity === undefined ? '' : JSON.stringify(snapshot.identity)
    } catch (error) {
      t.unstored = true
      this.#host.failed(`store session ${t.session.id} (its identity is not JSON)`, error)
      return
    }
    const head = snapshot.unacknowledged[0]?.seq ?? snapshot.nextSeq
    const sequencer = this.#host.sequencer
    const args: (string | number | Buffer)[] = [
      this.#host.keys.session(snapshot.id),
      this.#host.keys.messages(snapshot.id),
      this.#host.node,
      t.detachedAt === undefined ? this.#liveTtl(t.retention) : this.#remaining(t),
      identity,
      snapshot.nextSeq,
      snapshot.lastReceived,
      JSON.stringify(snapshot.rooms),
      sequencer.epoch ?? '',
      sequencer.seen,
      head,
      snapshot.tokenDigest,
    ]
    for (const m of snapshot.unacknowledged) args.push(encodeStored(m))
    t.resync = false
    t.roomsDirty = false
    t.storedNext = snapshot.nextSeq
    t.acked = head - 1
    t.lastReceived = snapshot.lastReceived
    t.nextSeq = snapshot.nextSeq
    this.#host.redis.wkOpen(...args).then(
      (result) => this.#written(t, result as number),
      (error) => this.#writeFailed(t, error),
    )
  }

  #touch(t: Tracked, rooms: string): void {
    if (t.lost || t.unstored || !this.#host.usable) return
    const id = t.session.id
    this.#host.redis
      .wkTouch(
        this.#host.keys.session(id),
        this.#host.keys.messages(id),
        this.#host.node,
        t.detachedAt === undefined ? this.#liveTtl(t.retention) : this.#remaining(t),
        rooms,
      )
      .then(
        (result) => this.#written(t, result as number),
        (error) => this.#writeFailed(t, error),
      )
  }

  #remaining(t: Tracked): number {
    return Math.max(1, (t.detachedAt ?? Date.now()) + t.retention - Date.now())
  }

  #written(t: Tracked, result: number): void {
    if (result === 1 || t.lost) return
    if (result === 0) {
      // Claimed by another node (its notice may not have arrived yet): the local copy is stale.
      this.release(t.session.id)
    } else if (result === -3) {
      t.unstored = true
      this.#host.redis
        .wkDelete(
          this.#host.keys.session(t.session.id),
          this.#host.keys.messages(t.session.id),
          this.#host.node,
        )
        .catch(() => {})
      this.#host.failed(
        `store session ${t.session.id}`,
        new BackpressureError(
          ErrorCodes.BACKPRESSURE,
          `More than ${this.#limits.maxStoredMessages} unacknowledged messages: no longer resumable elsewhere`,
        ),
      )
    } else if (this.#tracked.get(t.session.id) === t) {
      // Gone (expired, or Redis restarted) or out of step: rewrite it whole.
      this.#writeWhole(t)
    }
  }

  #writeFailed(t: Tracked, error: unknown): void {
    t.resync = true
    this.#host.failed(`write session ${t.session.id}`, error)
  }

  #ensureTimer(): void {
    if (this.#timer !== undefined) return
    const every = Math.max(50, Math.min(1000, Math.floor(this.#limits.retention / 8)))
    this.#timer = setInterval(() => this.#sweep(Date.now()), every)
    this.#timer.unref()
  }

  #sweep(now: number): void {
    const touch = now - this.#lastTouch >= this.#touchEvery
    if (touch) this.#lastTouch = now
    for (const t of [...this.#tracked.values()]) {
      if (t.detachedAt !== undefined && now >= t.detachedAt + t.retention) {
        this.#tracked.delete(t.session.id)
        if (!t.lost) this.delete(t.session.id)
        t.session.expire()
      } else if (touch && t.detachedAt === undefined) this.#touch(t, '')
    }
    if (this.#tracked.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    // Sessions stay in Redis for another node to resume (the server is shutting down, not ending them).
    this.#tracked.clear()
  }
}

/** An identity as the store writes it ('' for none), or undefined when JSON cannot carry it. */
function identityJson(identity: unknown): string | undefined {
  if (identity === undefined) return ''
  try {
    return JSON.stringify(identity)
  } catch {
    return undefined
  }
}

type LogEntry = [Buffer, Buffer[]]
type ClaimReply = [Buffer, Buffer[], Buffer[], Buffer, Buffer, LogEntry[]]

function hashOf(fields: Buffer[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!.toString()] = fields[i + 1]!.toString()
  return out
}

function snapshotOf(id: string, meta: Record<string, string>, stored: Buffer[]): SessionSnapshot {
  const unacknowledged: StoredMessage[] = []
  for (const buf of stored) {
    const m = decodeStored(buf)
    unacknowledged.push({ ...m, size: envelopeLength(m.flags, Buffer.byteLength(m.name), m.bodyBytes) })
  }
  const rooms = JSON.parse(meta.rooms ?? '[]') as unknown
  return {
    id,
    identity: meta.identity === undefined || meta.identity === '' ? undefined : JSON.parse(meta.identity),
    tokenDigest: meta.token ?? '',
    nextSeq: Number(meta.nextSeq),
    lastReceived: Number(meta.lastReceived),
    rooms: Array.isArray(rooms) ? rooms.filter((r): r is string => typeof r === 'string') : [],
    unacknowledged,
  }
}

/** A missed broadcast as the session would have queued it (same flags and size as Session.enqueueBody). */
function storedOf(seq: number, wire: WireBroadcast): StoredMessage {
  const { event, format, body } = wire.message
  const flags = format | Flag.SEQ | Flag.NAME
  const bodyBytes = bodyLength(body)
  return {
    seq,
    kind: Kind.EVENT,
    flags,
    id: 0,
    name: event,
    format,
    body,
    bodyBytes,
    size: envelopeLength(flags, Buffer.byteLength(event), bodyBytes),
  }
}
