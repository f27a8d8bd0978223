// What becomes of a session's outbox when its transport changes hands: messages written early behind
// a resuming HELLO, a session the peer no longer knows (sessionLost: renumbered from 1), and a session
// taken up from storage (another node, a page before its reload). Core methods call these.
//
//   writeEarly ─► [HELLO][oldest unacked…] counted as sent ─► WELCOME: attach() skips them
//                                                         └─► sessionLost: lose() un-counts them

import { FRAME_PREFIX_BYTES } from '../wire/envelope-frame.ts'
import { Kind } from '../wire/kinds.ts'
import { MAX_BATCH_BYTES, MAX_EARLY_FRAME_BYTES, writeEntry } from './batch.ts'
import type { SessionCore } from './core.ts'
import { type OutboxEntry, rejectEntry, type StoredEntry } from './outbox.ts'
import { PendingRequests } from './pending-requests.ts'

/** What rode behind a resuming HELLO: up to `through`; the outbox's sent mark before it. */
export type EarlyWrite = { through: number; sentBefore: number }

/** A session as stores keep it. */
export type StoredSession = {
  nextSeq: number
  lastReceived: number
  sentUpTo: number
  entries: readonly StoredEntry[]
}

/**
 * `hello` followed by the oldest unacknowledged messages, up to one batch. They count as sent (the
 * server may apply them), unless the session turns out lost: then the server dropped them unread.
 */
export function writeEarly(core: SessionCore, hello: Uint8Array): Uint8Array {
  const outbox = core.outbox
  let total = hello.length
  let through = 0
  const entries: OutboxEntry[] = []
  for (const entry of outbox) {
    const framed = FRAME_PREFIX_BYTES + entry.size
    if (total >= MAX_BATCH_BYTES || framed > MAX_EARLY_FRAME_BYTES) break
    entries.push(entry)
    total += framed
    through = entry.seq
  }
  core.early = { through, sentBefore: outbox.sentUpTo }
  if (through > outbox.sentUpTo) outbox.sentUpTo = through
  if (entries.length === 0) return hello
  const payloads = core.profile.payloads
  const out = payloads.alloc(total)
  out.set(hello, 0)
  let at = hello.length
  for (const e of entries) at = writeEntry(payloads, out, at, e)
  return at === total ? out : out.subarray(0, at)
}

/**
 * The peer did not know the session (restart, expiry). Messages it may have seen are given up: their
 * sends reject with `error(lost)`; messages never written to any transport are renumbered from 1 into
 * the new session, and requests waiting on them follow. Returns the error given to the lost ones.
 */
export function loseSession(core: SessionCore, error: (lost: OutboxEntry[]) => Error): Error {
  const outbox = core.outbox
  // The server dropped what followed our HELLO unread: only earlier transports may have delivered it.
  if (core.early !== undefined) outbox.sentUpTo = core.early.sentBefore
  core.early = undefined
  const sentUpTo = outbox.sentUpTo
  const lost: OutboxEntry[] = []
  const kept: OutboxEntry[] = []
  for (const entry of outbox.takeAll()) (entry.seq <= sentUpTo ? lost : kept).push(entry)
  const reason = error(lost)
  for (const entry of lost) rejectEntry(entry, reason)
  core.failSentRequests(() => reason, false)
  const renumbered = new Map<number, number>()
  core.nextSeq = 1
  for (const entry of kept) {
    renumbered.set(entry.seq, core.nextSeq)
    entry.seq = core.nextSeq++
    outbox.push(entry)
  }
  core.pending?.renumber(renumbered)
  outbox.sentUpTo = 0
  core.lastReceived = 0
  core.ackSent = 0
  return reason
}

/** Takes up a stored session: its position, and its unacknowledged messages as the outbox. */
export function restoreSession(core: SessionCore, state: StoredSession): void {
  core.nextSeq = state.nextSeq
  core.lastReceived = state.lastReceived
  core.ackSent = state.lastReceived
  let lastRequestId = 0
  for (const stored of state.entries) {
    core.outbox.push({ ...stored, settle: undefined })
    if (stored.kind === Kind.REQUEST && stored.id > lastRequestId) lastRequestId = stored.id
  }
  core.outbox.sentUpTo = state.sentUpTo
  // A new request must not take the id of a restored one: its response would be taken for ours.
  if (lastRequestId > 0) (core.pending ??= new PendingRequests(core.profile.clock)).reserve(lastRequestId)
}
