// The client-side Subscription fed room messages directly: meta and decoding, duplicates at or before
// the position dropped, gaps move the position, unsubscribe stops delivery, resumeFrom for re-subscribes.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RoomGap, RoomPublication } from '../../src/messaging/room-message.ts'
import { type GapInfo, type MessageMeta, Subscription } from '../../src/messaging/subscription.ts'

const pub = (offset: number, epoch = 'e1'): RoomPublication => ({
  type: 'publication',
  room: 'lobby',
  name: 'chat',
  epoch,
  offset,
  format: 0,
  bytes: new TextEncoder().encode(`xx${JSON.stringify({ n: offset })}`),
  bodyStart: 2,
})
const decode = (_format: number, bytes: Uint8Array, start: number): unknown =>
  JSON.parse(new TextDecoder().decode(bytes.subarray(start)))

function subscription(recover = true) {
  let ended = 0
  const sub = new Subscription('lobby', { recover }, decode, async () => {
    ended++
  })
  sub.release()
  const got: [unknown, MessageMeta][] = []
  const gaps: GapInfo[] = []
  sub.on('message', (data, meta) => got.push([data, meta]))
  sub.on('gap', (info) => gaps.push(info))
  return { sub, got, gaps, ended: () => ended }
}

test('messages arrive decoded with room, name, offset and epoch', () => {
  const { sub, got } = subscription()
  sub.receive(pub(1))
  assert.deepEqual(got, [[{ n: 1 }, { room: 'lobby', name: 'chat', offset: 1, epoch: 'e1' }]])
  assert.deepEqual(sub.position, { offset: 1, epoch: 'e1' })
})

test('a message at or before the position in the same epoch is dropped as a duplicate', () => {
  const { sub, got } = subscription()
  for (const offset of [1, 2, 2, 1, 3]) sub.receive(pub(offset))
  assert.deepEqual(
    got.map(([, meta]) => meta.offset),
    [1, 2, 3],
  )
})

test('a gap is reported with its count and moves the position past it', () => {
  const { sub, got, gaps } = subscription()
  sub.receive(pub(1))
  const gap: RoomGap = { type: 'gap', room: 'lobby', epoch: 'e1', from: 2, to: 5, reason: 'trimmed' }
  sub.receive(gap)
  sub.receive(pub(6))
  assert.deepEqual(gaps, [{ room: 'lobby', reason: 'trimmed', epoch: 'e1', from: 2, to: 5, count: 4 }])
  assert.deepEqual(
    got.map(([, meta]) => meta.offset),
    [1, 6],
  )
})

test('after an epoch gap, offsets of the new epoch are delivered even when lower', () => {
  const { sub, got } = subscription()
  sub.receive(pub(9, 'old'))
  sub.receive({
    type: 'gap',
    room: 'lobby',
    epoch: 'new',
    from: 1,
    to: 0,
    reason: 'epoch',
    previous: { offset: 9, epoch: 'old' },
  })
  sub.receive(pub(1, 'new'))
  assert.deepEqual(
    got.map(([, meta]) => [meta.offset, meta.epoch]),
    [
      [9, 'old'],
      [1, 'new'],
    ],
  )
})

test('unsubscribe stops delivery and tells the client once', async () => {
  const { sub, got, ended } = subscription()
  await sub.unsubscribe()
  await sub.unsubscribe()
  sub.receive(pub(1))
  assert.deepEqual(got, [])
  assert.equal(ended(), 1)
  assert.equal(sub.active, false)
})

test('resumeFrom is the last position when recovering, and nothing (live from now) otherwise', () => {
  const recovering = subscription(true)
  recovering.sub.receive(pub(4))
  assert.deepEqual(recovering.sub.resumeFrom, { offset: 4, epoch: 'e1' })
  const live = subscription(false)
  live.sub.receive(pub(4))
  assert.equal(live.sub.resumeFrom, undefined)
})

test('messages received before release() are held, then delivered in order', () => {
  const sub = new Subscription('lobby', { recover: true }, decode, async () => {})
  sub.receive(pub(1))
  sub.receive(pub(2))
  const got: number[] = []
  sub.on('message', (_data, meta) => got.push(meta.offset))
  assert.deepEqual(got, [])
  sub.release()
  sub.receive(pub(3))
  assert.deepEqual(got, [1, 2, 3])
})

test('a listener that throws does not stop the next message', () => {
  const { sub, got } = subscription()
  const errors: unknown[] = []
  sub.on('error', (error) => errors.push(error))
  sub.once('message', () => {
    throw new Error('app bug')
  })
  sub.receive(pub(1))
  sub.receive(pub(2))
  assert.equal(errors.length, 1)
  assert.equal(got.length, 2)
})

test('a gap names only what the subscriber lacks: one judged from an older position is narrowed, one already covered is dropped', () => {
  const { sub, gaps } = subscription()
  for (const offset of [1, 2, 3]) sub.receive(pub(offset))
  // A re-subscribe sent from offset 1 raced messages 2 and 3 of the previous feed.
  sub.receive({ type: 'gap', room: 'lobby', epoch: 'e1', from: 2, to: 3, reason: 'trimmed' })
  sub.receive({ type: 'gap', room: 'lobby', epoch: 'e1', from: 2, to: 5, reason: 'trimmed' })
  sub.receive({
    type: 'gap',
    room: 'lobby',
    epoch: '',
    from: 1,
    to: 0,
    reason: 'epoch',
    previous: { offset: 4, epoch: 'e1' },
  })
  assert.deepEqual(gaps, [
    { room: 'lobby', reason: 'trimmed', epoch: 'e1', from: 4, to: 5, count: 2 },
    {
      room: 'lobby',
      reason: 'epoch',
      epoch: '',
      from: 1,
      to: 0,
      count: 0,
      previous: { offset: 5, epoch: 'e1' },
    },
  ])
})
