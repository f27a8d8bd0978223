// Where a browser client keeps its session across page reloads: session id, resume token, position
// and the unacknowledged outbox, as JSON in sessionStorage or localStorage (envelopes as base64).

import { BackpressureError, ErrorCodes } from '../../errors.ts'
import { decodeEnvelope, newEnvelope, writeHeader } from '../wire/envelope-frame.ts'
import { Flag } from '../wire/kinds.ts'
import type { StoredEntry } from './outbox.ts'

export type PersistMode = 'session' | 'local'

export type Saved = {
  session: string
  token: string | undefined
  lastReceived: number
  nextSeq: number
  sentUpTo: number
  /** Unacknowledged envelopes, oldest first. */
  outbox: Uint8Array[]
}

function storage(mode: PersistMode): Storage | undefined {
  try {
    return (mode === 'local' ? globalThis.localStorage : globalThis.sessionStorage) ?? undefined
  } catch {
    return undefined // storage disabled (privacy settings, sandboxed frame)
  }
}

function toBase64(bytes: Uint8Array): string {
  let text = ''
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(text)
}

function fromBase64(text: string): Uint8Array {
  const raw = atob(text)
  const bytes = new Uint8Array(raw.length)
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i)
  return bytes
}

/** The saved session under `key`, or undefined when there is none or it does not parse. */
export function loadSession(mode: PersistMode, key: string): Saved | undefined {
  try {
    const text = storage(mode)?.getItem(key)
    if (!text) return undefined
    const v = JSON.parse(text)
    if (typeof v.session !== 'string' || !Array.isArray(v.outbox)) return undefined
    return {
      session: v.session,
      token: typeof v.token === 'string' ? v.token : undefined,
      lastReceived: Number(v.lastReceived) || 0,
      nextSeq: Number(v.nextSeq) || 1,
      sentUpTo: Number(v.sentUpTo) || 0,
      outbox: v.outbox.map(fromBase64),
    }
  } catch {
    return undefined
  }
}

/** Saves (or with undefined, forgets) the session. A full store throws WK_BACKPRESSURE. */
export function saveSession(mode: PersistMode, key: string, saved: Saved | undefined): void {
  const store = storage(mode)
  if (store === undefined) return
  if (saved === undefined) {
    store.removeItem(key)
    return
  }
  try {
    store.setItem(key, JSON.stringify({ ...saved, outbox: saved.outbox.map(toBase64) }))
  } catch (error) {
    throw new BackpressureError(
      ErrorCodes.BACKPRESSURE,
      `Web Storage is full: the session could not be kept`,
      {
        cause: error,
      },
    )
  }
}

/** Outbox entries as the envelopes they are on the wire (what `Saved.outbox` keeps). */
export function envelopesOf(entries: Iterable<StoredEntry>): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const e of entries) {
    const body = typeof e.body === 'string' ? new TextEncoder().encode(e.body) : e.body
    const bytes = new Uint8Array(e.size)
    const at = writeHeader(bytes, 0, e.kind, e.flags, e.seq, 0, e.id, e.name)
    if (body !== undefined) bytes.set(body, at)
    out.push(bytes)
  }
  return out
}

/** Outbox entries back from saved envelopes; throws WK_PROTOCOL on bytes that are not envelopes. */
export function entriesOf(envelopes: readonly Uint8Array[]): StoredEntry[] {
  return envelopes.map((bytes) => {
    const m = decodeEnvelope(bytes, newEnvelope())
    const bodyBytes = bytes.length - m.payloadStart
    return {
      seq: m.seq,
      kind: m.kind,
      flags: m.flags & ~Flag.ACK,
      id: m.id,
      name: m.name,
      format: m.format,
      body: bodyBytes > 0 ? bytes.slice(m.payloadStart) : undefined,
      bodyBytes,
      size: bytes.length - (m.flags & Flag.ACK ? 6 : 0),
    }
  })
}
