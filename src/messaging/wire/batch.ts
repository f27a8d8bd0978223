// The batch envelope: several complete envelopes in one WebSocket message, for peers that both said
// so in their handshake. A browser spends ~60 µs of CPU per WebSocket message whatever it carries, so
// one message per envelope caps a page near 10-15k messages/s; a turn's worth of envelopes in one
// message lifts that cap. Browser-safe (Uint8Array only).
//
//   byte 0      kind   BATCH (13)
//   byte 1      flags  exactly Format.RAW: no sequence, ack, id or name of its own
//   repeated    uint32 big-endian length (> 0), then that many bytes: one complete envelope, not a batch
//
// Negotiated: the HELLO's `batch` is the largest batch message the client accepts, the WELCOME's the
// largest the server accepts (both BATCH_MAX_BYTES today). A peer that did not announce it never
// receives a batch, and a batch it sends anyway is a protocol error. Over TCP (a length-prefixed
// stream, where many envelopes already share a write) kind 13 is an unknown kind.

import { ErrorCodes, ProtocolError } from '../../errors.ts'
import { Format, Kind } from './kinds.ts'

/** Largest batch message (header included) a wirekit peer sends and accepts. */
export const BATCH_MAX_BYTES = 64 * 1024
/** Most envelopes in one batch. */
export const BATCH_MAX_ENVELOPES = 1024
/** Smallest `batch` value in a handshake that turns batches on (below it they would not pay). */
const BATCH_MIN_BYTES = 256
const HEADER_BYTES = 2
const PREFIX_BYTES = 4

/** The batch size a handshake's `batch` field allows (within our own limit), or 0: no batches. */
export function batchLimit(announced: unknown, maxFrameLength: number): number {
  if (typeof announced !== 'number' || !(announced >= BATCH_MIN_BYTES)) return 0
  return Math.min(announced, BATCH_MAX_BYTES, maxFrameLength)
}

/** Whether a WebSocket message is a batch envelope (checked before anything decodes it). */
export function isBatch(message: Uint8Array): boolean {
  return message[0] === Kind.BATCH
}

function bad(what: string): never {
  throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad batch: ${what}`)
}

function lengthAt(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
}

/**
 * Calls `each` with every envelope of a batch message, in order, as views of it. The whole batch is
 * checked first (size, flags, every length, no nested batch, count), so a bad one delivers nothing.
 * `each` may return true to stop after that envelope: the offset to go on from (with
 * `continueBatch`) is returned, or -1 when every envelope was delivered.
 */
export function eachBatched<T extends Uint8Array>(
  message: T,
  limit: number,
  each: (envelope: T) => unknown,
): number {
  const end = message.length
  if (end > limit) bad(`${end} bytes > ${limit}`)
  if (message[1] !== Format.RAW) bad(`flags ${message[1]}`)
  let count = 0
  for (let at = HEADER_BYTES; at < end; ) {
    if (at + PREFIX_BYTES > end) bad(`cut at ${at}`)
    const length = lengthAt(message, at)
    if (length === 0) bad(`empty envelope at ${at}`)
    if (at + PREFIX_BYTES + length > end) bad(`past the end at ${at}`)
    if (message[at + PREFIX_BYTES] === Kind.BATCH) bad('nested')
    if (++count > BATCH_MAX_ENVELOPES) bad(`over ${BATCH_MAX_ENVELOPES} envelopes`)
    at += PREFIX_BYTES + length
  }
  if (count === 0) bad('empty')
  return continueBatch(message, HEADER_BYTES, each)
}

/** Goes on delivering a batch `eachBatched` checked and stopped, from offset `at`. */
export function continueBatch<T extends Uint8Array>(
  message: T,
  at: number,
  each: (envelope: T) => unknown,
): number {
  const end = message.length
  while (at < end) {
    const next = at + PREFIX_BYTES + lengthAt(message, at)
    if (each(message.subarray(at + PREFIX_BYTES, next) as T) === true && next < end) return next
    at = next
  }
  return -1
}

/**
 * Turns a session's flush (uint32 big-endian length + envelope, repeated) into WebSocket messages:
 * consecutive envelopes share a batch of at most `limit` bytes and BATCH_MAX_ENVELOPES; an envelope
 * that travels alone (the only one, or too big to share) goes as itself, unwrapped. `last` is true for
 * the final message.
 */
export function packBatches<T extends Uint8Array>(
  frames: T,
  limit: number,
  alloc: (size: number) => T,
  send: (message: T, last: boolean) => void,
): void {
  const end = frames.length
  let at = 0
  while (at + PREFIX_BYTES <= end) {
    let stop = at
    let bytes = HEADER_BYTES
    let count = 0
    while (stop + PREFIX_BYTES <= end && count < BATCH_MAX_ENVELOPES) {
      const framed = PREFIX_BYTES + lengthAt(frames, stop)
      if (count > 0 && bytes + framed > limit) break
      bytes += framed
      stop += framed
      count++
    }
    if (count === 1) {
      send(frames.subarray(at + PREFIX_BYTES, stop) as T, stop >= end)
    } else {
      const message = alloc(bytes)
      message[0] = Kind.BATCH
      message[1] = Format.RAW
      message.set(frames.subarray(at, stop), HEADER_BYTES)
      send(message, stop >= end)
    }
    at = stop
  }
}
