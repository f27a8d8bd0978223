// What the WebSocket transports share: the subprotocol name, the split of a session's
// length-prefixed batch into the envelopes that travel one WebSocket message each, and the way in:
// one WebSocket message (a batch envelope unpacked) to a connection's owner.

import { ErrorCodes, ProtocolError } from '../../errors.ts'
import { eachBatched, isBatch } from '../wire/batch.ts'
import type { Connection } from './connection.ts'

/** The WebSocket subprotocol of wirekit's envelope protocol, version 1. */
export const SUBPROTOCOL = 'wirekit.1'

/**
 * Calls `send` with each envelope of `batch` (4-byte big-endian length + envelope, repeated), as views
 * of the batch; `last` is true for the final one.
 */
export function eachFrame<T extends Uint8Array>(batch: T, send: (frame: T, last: boolean) => void): void {
  const end = batch.length
  let at = 0
  while (at + 4 <= end) {
    const length =
      ((batch[at]! << 24) | (batch[at + 1]! << 16) | (batch[at + 2]! << 8) | batch[at + 3]!) >>> 0
    const next = at + 4 + length
    send(batch.subarray(at + 4, next) as T, next >= end)
    at = next
  }
}

/**
 * Hands the envelopes of one WebSocket message to `conn`'s owner: the message itself, or each envelope
 * of a batch when batches were agreed (`takeBatch`: the largest we take, 0 for none).
 */
export function deliver(conn: Connection, message: Buffer, takeBatch: number): void {
  if (!isBatch(message)) {
    conn.owner.onFrame(message, conn)
    return
  }
  if (takeBatch === 0) {
    throw new ProtocolError(ErrorCodes.PROTOCOL, 'Bad batch: batches were not agreed in the handshake')
  }
  eachBatched(message, takeBatch, (envelope) => {
    if (!conn.closed) conn.owner.onFrame(envelope, conn)
  })
}
