// The bytes a session core writes: one batch of framed envelopes (a 4-byte big-endian length, then the
// envelope) built in place in one buffer. That is the TCP wire format (lengthField, 4 bytes), written in
// one syscall for many messages; WebSocket transports cut it into one message per envelope.

import { FRAME_PREFIX_BYTES, writeFramePrefix, writeHeader } from '../wire/envelope-frame.ts'
import { Flag, Format, Kind } from '../wire/kinds.ts'
import type { Body, Payloads } from '../wire/payloads.ts'
import type { OutboxEntry } from './outbox.ts'

/** A batch takes outbox messages until it holds this many bytes. */
export const MAX_BATCH_BYTES = 256 * 1024
/**
 * Largest frame a resuming client sends behind its HELLO, before the WELCOME: servers accept frames up
 * to their maxHandshakeFrameLength (at least this) until the client has logged in.
 */
export const MAX_EARLY_FRAME_BYTES = 16 * 1024
const ACK_ENVELOPE_BYTES = 8
/** A framed cumulative ack. */
export const ACK_FRAME_BYTES = FRAME_PREFIX_BYTES + ACK_ENVELOPE_BYTES

export const PING_FRAME = Uint8Array.of(0, 0, 0, 2, Kind.PING, Format.EMPTY)
export const PONG_FRAME = Uint8Array.of(0, 0, 0, 2, Kind.PONG, Format.EMPTY)

/** A volatile event waiting for the next flush (never kept in the outbox). */
export type VolatileMessage = { name: string; flags: number; body: Body; bodyBytes: number; size: number }

/** Writes a framed ack of everything up to `ack` at `at`; returns the offset after it. */
export function writeAck(out: Uint8Array, at: number, ack: number): number {
  writeFramePrefix(out, at, ACK_ENVELOPE_BYTES)
  return writeHeader(out, at + 4, Kind.ACK, Flag.ACK | Format.EMPTY, 0, ack, 0, '')
}

/** Writes a framed volatile event at `at`; returns the offset after it. */
export function writeVolatile(payloads: Payloads, out: Uint8Array, at: number, m: VolatileMessage): number {
  writeFramePrefix(out, at, m.size)
  const p = writeHeader(out, at + 4, Kind.VOLATILE, m.flags, 0, 0, 0, m.name)
  return payloads.write(out, p, m.body, m.bodyBytes)
}

/** Writes a framed outbox message at `at`; returns the offset after it. */
export function writeEntry(payloads: Payloads, out: Uint8Array, at: number, e: OutboxEntry): number {
  writeFramePrefix(out, at, e.size)
  const p = writeHeader(out, at + 4, e.kind, e.flags, e.seq, 0, e.id, e.name)
  return payloads.write(out, p, e.body, e.bodyBytes)
}
