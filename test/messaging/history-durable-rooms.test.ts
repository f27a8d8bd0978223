// DurableRooms, the node-side coordinator: publish appends then fans out, a feed replays from the log
// then goes live at the seam without a gap or duplicate (under a burst of concurrent publishes, on a
// real SQLite file), failed reads are retried, and rooms a pattern maps to false are not durable.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { isWirekitError } from '../../src/errors.ts'
import {
  type CursorEvent,
  createHistoryStore,
  DurableRooms,
  type HistoryStore,
  MemoryHistoryStore,
} from '../../src/messaging/cluster/history/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'wirekit-durable-rooms-'))
const opened: DurableRooms[] = []
after(async () => {
  await Promise.allSettled(opened.map((r) => r.close()))
  rmSync(dir, { recursive: true, force: true })
})
const rooms = (options: ConstructorParameters<typeof DurableRooms>[0]): DurableRooms => {
  const r = new DurableRooms(options)
  opened.push(r)
  return r
}
const collect = () => {
  const offsets: number[] = []
  const gaps: [number, number][] = []
  const deliver = (event: CursorEvent): void => {
    if (event.type === 'message') offsets.push(event.entry.offset)
    else gaps.push([event.gap.from, event.gap.to])
  }
  return { offsets, gaps, deliver }
}
const until = async (check: () => boolean, what: string): Promise<void> => {
  for (const deadline = Date.now() + 10_000; !check(); ) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

test('a feed that joins mid-burst from the start of the log gets every publication once, in order (SQLite)', async () => {
  const durable = rooms({ store: 'sqlite', path: join(dir, 'burst.sqlite'), maxMessages: 100_000 })
  const published: Promise<unknown>[] = []
  for (let i = 0; i < 1_000; i++) published.push(durable.publish('lobby', 'm', Buffer.from(String(i))))
  await published[300]
  const early = collect()
  durable.subscribe('lobby', { offset: 0, epoch: '' }, early.deliver)
  for (let i = 0; i < 1_000; i++) published.push(durable.publish('lobby', 'm', Buffer.from(String(i))))
  const live = collect()
  durable.subscribe('lobby', undefined, live.deliver) // live from the next publication it sees
  for (let i = 0; i < 500; i++) published.push(durable.publish('lobby', 'm', Buffer.from(String(i))))
  await Promise.all(published)
  await until(() => early.offsets.length >= 2_500, 'the recovering feed to catch up')
  assert.deepEqual(
    early.offsets,
    Array.from({ length: 2_500 }, (_, i) => i + 1),
  )
  assert.ok(live.offsets.length > 0)
  const from = live.offsets[0]!
  assert.deepEqual(
    live.offsets,
    Array.from({ length: 2_500 - from + 1 }, (_, i) => from + i),
  )
})

test('a feed from a trimmed position gets a gap naming the lost offsets, then the rest', async () => {
  const durable = rooms({ store: 'memory', maxMessages: 10 })
  let epoch = ''
  for (let i = 0; i < 25; i++) epoch = (await durable.publish('r', 'm', Buffer.from('x'))).epoch
  const feed = collect()
  durable.subscribe('r', { offset: 5, epoch }, feed.deliver)
  await until(() => feed.offsets.length === 10, 'the replay')
  assert.deepEqual(feed.gaps, [[6, 15]])
  assert.deepEqual(
    feed.offsets,
    Array.from({ length: 10 }, (_, i) => 16 + i),
  )
})

test('a read that fails is retried and the feed then catches up', async () => {
  const inner = new MemoryHistoryStore()
  let failures = 1
  const flaky: HistoryStore = {
    kind: 'memory',
    append: (room, name, data) => inner.append(room, name, data),
    head: (room) => inner.head(room),
    close: () => inner.close(),
    read: (room, options) =>
      failures-- > 0 ? Promise.reject(new Error('disk on fire')) : inner.read(room, options),
  }
  const errors: unknown[] = []
  const durable = new DurableRooms({ store: flaky }, (error) => errors.push(error))
  opened.push(durable)
  for (let i = 0; i < 3; i++) await durable.publish('r', 'm', Buffer.from('x'))
  const feed = collect()
  durable.subscribe('r', { offset: 0, epoch: '' }, feed.deliver)
  await until(() => feed.offsets.length === 3, 'the retried read')
  assert.equal(errors.length, 1)
  assert.deepEqual(feed.offsets, [1, 2, 3])
})

test('a closed feed receives nothing more', async () => {
  const durable = rooms({ store: 'memory' })
  const feed = collect()
  const handle = durable.subscribe('r', undefined, feed.deliver)
  await durable.publish('r', 'm', Buffer.from('1'))
  handle.close()
  await durable.publish('r', 'm', Buffer.from('2'))
  assert.deepEqual(feed.offsets, [1])
  assert.deepEqual(handle.position?.offset, 1)
})

test('rooms a pattern maps to false are not durable; the others are', () => {
  const durable = rooms({ store: 'memory', rooms: { 'typing:*': false, 'chat:*': { maxMessages: 5 } } })
  assert.equal(durable.isDurable('typing:lobby'), false)
  assert.equal(durable.isDurable('chat:lobby'), true)
  assert.equal(durable.isDurable('anything'), true)
})

test('a store option that cannot work throws WK_INVALID_ARGUMENT', () => {
  const invalid = (e: unknown) => isWirekitError(e, 'WK_INVALID_ARGUMENT')
  assert.throws(() => createHistoryStore({ store: 'sqlite' }), invalid)
  assert.throws(() => createHistoryStore({ store: 'redis' }), invalid)
  assert.throws(() => createHistoryStore({ store: 'disk' as 'memory' }), invalid)
  assert.throws(() => createHistoryStore({ rooms: { 'a*': 3 as unknown as false } }), invalid)
})
