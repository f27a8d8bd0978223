// The room message bytes (publication and gap) fed directly: round trips, every truncation, and random
// hostile bytes, which must end in WK_PROTOCOL and nothing else.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isWirekitError, ProtocolError } from '../../src/errors.ts'
import {
  decodeRoomMessage,
  encodeGap,
  encodePublication,
  type RoomPublication,
  storedPayload,
} from '../../src/messaging/room-message.ts'

const publication = (room: string, name: string, epoch: string, offset: number, body: Uint8Array) =>
  encodePublication(room, name, epoch, offset, storedPayload(2, body))

test('a publication decodes to what was encoded, body carried as stored', () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 60 }),
      fc.string({ minLength: 1, maxLength: 60 }),
      fc.stringMatching(/^[0-9a-f]{0,16}$/),
      fc.integer({ min: 1, max: 2 ** 48 - 1 }),
      fc.uint8Array({ maxLength: 100 }),
      (room, name, epoch, offset, body) => {
        const bytes = publication(room, name, epoch, offset, body)
        const decoded = decodeRoomMessage(bytes)
        assert.equal(decoded.type, 'publication')
        const { bytes: from, bodyStart, ...header } = decoded as RoomPublication
        assert.deepEqual(header, { type: 'publication', room, name, epoch, offset, format: 2 })
        assert.equal(from, bytes)
        assert.deepEqual(from.subarray(bodyStart), body)
      },
    ),
  )
})

test('a gap decodes to what was encoded, with previous only for an epoch gap', () => {
  const trimmed = { room: 'lobby', epoch: 'ab', from: 3, to: 9, reason: 'trimmed' as const }
  assert.deepEqual(decodeRoomMessage(encodeGap(trimmed)), { type: 'gap', ...trimmed })
  const epoch = {
    room: 'lobby',
    epoch: 'cd',
    from: 1,
    to: 0,
    reason: 'epoch' as const,
    previous: { offset: 7, epoch: 'ab' },
  }
  assert.deepEqual(decodeRoomMessage(encodeGap(epoch)), { type: 'gap', ...epoch })
})

test('a message is read in place from a start offset inside a larger frame', () => {
  const inner = publication('lobby', 'chat', 'e1', 7, Uint8Array.of(9, 8))
  const frame = new Uint8Array(5 + inner.length)
  frame.set(inner, 5)
  const decoded = decodeRoomMessage(frame, 5) as RoomPublication
  assert.deepEqual([decoded.room, decoded.offset, decoded.bytes === frame], ['lobby', 7, true])
  assert.deepEqual(frame.subarray(decoded.bodyStart), Uint8Array.of(9, 8))
})

test('a read buffer reused for the next frame does not change strings decoded from it before', () => {
  // Frames arrive in a reused read buffer: the decoder's memo must keep copies, not views of it.
  const frame = Buffer.alloc(64)
  const one = publication('room-a', 'chat', 'epoch-1', 1, Uint8Array.of(1))
  frame.set(one)
  assert.equal(decodeRoomMessage(frame.subarray(0, one.length)).room, 'room-a')
  const two = publication('room-b', 'chat', 'epoch-1', 2, Uint8Array.of(1))
  frame.set(two)
  assert.equal(decodeRoomMessage(frame.subarray(0, two.length)).room, 'room-b')
  frame.set(one)
  assert.equal(decodeRoomMessage(frame.subarray(0, one.length)).room, 'room-a')
})

test('every truncation of a valid message is rejected with WK_PROTOCOL', () => {
  const gap = encodeGap({
    room: 'r',
    epoch: 'e',
    from: 1,
    to: 2,
    reason: 'epoch',
    previous: { offset: 1, epoch: 'x' },
  })
  for (const bytes of [publication('room', 'chat', 'abcd', 42, new Uint8Array([1, 2])), gap]) {
    const minimum = bytes === gap ? bytes.length : bytes.length - 2 // a publication's body may be empty
    for (let n = 0; n < minimum; n++) {
      assert.throws(
        () => decodeRoomMessage(bytes.subarray(0, n)),
        (e) => isWirekitError(e, 'WK_PROTOCOL'),
        `cut at ${n}`,
      )
    }
  }
})

test('random bytes decode or fail with WK_PROTOCOL, never another error', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.constantFrom(0, 1, 2, 3), (bytes, type) => {
      const input = bytes.length > 0 ? Uint8Array.of(type, ...bytes.subarray(1)) : bytes
      try {
        decodeRoomMessage(input)
      } catch (error) {
        assert.ok(error instanceof ProtocolError, String(error))
      }
    }),
    { numRuns: 5_000 },
  )
})

test('a room name over 255 bytes is refused at encode time with WK_INVALID_ARGUMENT', () => {
  assert.throws(
    () => publication('x'.repeat(256), 'n', 'e', 1, new Uint8Array()),
    (e) => isWirekitError(e, 'WK_INVALID_ARGUMENT'),
  )
})
