// The memory history store's bound across rooms (maxTotalBytes, maxRooms): many rooms cannot grow the
// process without end, and what the bound evicts reaches a recovering subscriber as a gap, exactly as
// per-room trimming does ('trimmed' while the room is kept, 'epoch' once it was forgotten). Last, a
// hostile client publishing into thousands of rooms through an application that lets it.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { isWirekitError } from '../../src/errors.ts'
import { ENTRY_OVERHEAD, ROOM_OVERHEAD } from '../../src/messaging/cluster/history/memory-store.ts'
import {
  type GapInfo,
  MemoryHistoryStore,
  MessageClient,
  MessageServer,
  type Peer,
} from '../../src/messaging/index.ts'

const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

/** 99 bytes of data under the one-byte name 'n': 100 bytes counted, plus the entry overhead. */
const data = new Uint8Array(99)
const ENTRY = 100 + ENTRY_OVERHEAD

test('past maxTotalBytes the least recently appended room loses its oldest entries, and a read reports them as a trimmed gap', async () => {
  // Room a: 10 entries. Room b then grows until the total passes the cap by one entry.
  const cap = 2 * ROOM_OVERHEAD + 13 * ENTRY
  const store = new MemoryHistoryStore({ maxTotalBytes: cap })
  for (let i = 0; i < 10; i++) store.appendNow('a', 'n', data)
  for (let i = 0; i < 4; i++) store.appendNow('b', 'n', data)
  assert.deepEqual(store.usage, { rooms: 2, bytes: cap })
  const page = await store.read('a', { after: { offset: 0, epoch: store.epoch } })
  assert.deepEqual(page.gap, { reason: 'trimmed', room: 'a', epoch: store.epoch, from: 1, to: 1, count: 1 })
  assert.deepEqual(
    page.entries.map((e) => e.offset),
    [2, 3, 4, 5, 6, 7, 8, 9, 10],
  )
  const b = await store.read('b', { after: { offset: 0, epoch: store.epoch } })
  assert.equal(b.gap, undefined)
  assert.equal(b.entries.length, 4)
})

test('an append moves its room to the back of the eviction order', async () => {
  const cap = 2 * ROOM_OVERHEAD + 4 * ENTRY
  const store = new MemoryHistoryStore({ maxTotalBytes: cap })
  store.appendNow('a', 'n', data)
  store.appendNow('b', 'n', data)
  store.appendNow('a', 'n', data) // a is now the most recent: b goes first
  store.appendNow('a', 'n', data)
  store.appendNow('a', 'n', data) // one entry over the cap
  assert.deepEqual(store.usage, { rooms: 2, bytes: cap })
  const b = await store.read('b', { after: { offset: 0, epoch: store.epoch } })
  assert.deepEqual(b.gap, { reason: 'trimmed', room: 'b', epoch: store.epoch, from: 1, to: 1, count: 1 })
  assert.equal(b.entries.length, 0)
  const a = await store.read('a', { after: { offset: 0, epoch: store.epoch } })
  assert.equal(a.gap, undefined)
  assert.equal(a.entries.length, 4)
})

test('past maxRooms the least recently appended room is forgotten: its next log is a new epoch, and an old position gets an epoch gap', async () => {
  const store = new MemoryHistoryStore({ maxRooms: 3 })
  for (let i = 0; i < 5; i++) store.appendNow('old', 'n', data)
  const before = await store.head('old')
  for (const room of ['r1', 'r2', 'r3']) store.appendNow(room, 'n', data)
  assert.equal(store.usage.rooms, 3)
  assert.deepEqual(store.usage.bytes, 3 * (ROOM_OVERHEAD + ENTRY))
  const position = store.appendNow('old', 'n', data)
  assert.equal(position.offset, 1)
  assert.notEqual(position.epoch, before.epoch)
  const page = await store.read('old', { after: before })
  assert.deepEqual(page.gap, {
    reason: 'epoch',
    room: 'old',
    epoch: position.epoch,
    from: 1,
    to: 0,
    count: 0,
    previous: { offset: 5, epoch: before.epoch },
  })
  assert.deepEqual(
    page.entries.map((e) => e.offset),
    [1],
  )
})

test('the room appended to keeps its newest entry even when that alone is over maxTotalBytes', async () => {
  const store = new MemoryHistoryStore({ maxTotalBytes: ROOM_OVERHEAD + ENTRY })
  store.appendNow('other', 'n', data)
  store.appendNow('big', 'n', new Uint8Array(10_000))
  const page = await store.read('big', { after: { offset: 0, epoch: store.epoch } })
  assert.equal(page.entries.length, 1)
  assert.equal(store.usage.rooms, 1)
})

test('by default the memory store keeps at most 100,000 rooms', () => {
  const store = new MemoryHistoryStore()
  const one = new Uint8Array(1)
  for (let i = 0; i < 100_050; i++) store.appendNow(`room-${i}`, 'n', one)
  assert.equal(store.usage.rooms, 100_000)
})

test('maxTotalBytes and maxRooms that are not positive integers are refused with WK_INVALID_ARGUMENT', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => new MemoryHistoryStore({ maxTotalBytes: bad }),
      (e) => isWirekitError(e, 'WK_INVALID_ARGUMENT'),
    )
    assert.throws(
      () => new MemoryHistoryStore({ maxRooms: bad }),
      (e) => isWirekitError(e, 'WK_INVALID_ARGUMENT'),
    )
  }
})

test('a hostile client publishing into thousands of rooms leaves the store within its caps, and a returning subscriber of an evicted room is told by a gap', async () => {
  const store = new MemoryHistoryStore({ maxRooms: 50, maxTotalBytes: 64 * 1024 })
  const server = new MessageServer({ history: { store } })
  cleanup.push(() => server.close())
  // An application that lets any client publish into any room it names (like a chat's "say").
  server.on('connection', (peer: Peer) => {
    peer.on('say', (line: { room: string; text: string }) => {
      void server.publish(line.room, 'line', line.text)
    })
  })
  const address = await server.listen({ host: '127.0.0.1', port: 0 })
  const url = `tcp://127.0.0.1:${'port' in address ? address.port : 0}`
  const first = await MessageClient.connect(url, { reconnect: false })
  cleanup.push(() => first.close())
  const sub = await first.subscribe('lobby', { recover: true })
  const seen: number[] = []
  sub.on('message', (_data, meta) => seen.push(meta.offset))
  for (let i = 1; i <= 3; i++) await server.publish('lobby', 'line', `hello ${i}`)
  while (seen.length < 3) await new Promise((r) => setTimeout(r, 10))
  const left = sub.position!
  await first.close()

  const mallory = await MessageClient.connect(url, { reconnect: false })
  cleanup.push(() => mallory.close())
  for (let i = 0; i < 5_000; i++) void mallory.emit('say', { room: `spam-${i}`, text: 'x'.repeat(200) })
  await mallory.emit('say', { room: 'spam-last', text: 'done' })
  assert.ok(store.usage.rooms <= 50, `${store.usage.rooms} rooms`)
  assert.ok(store.usage.bytes <= 64 * 1024, `${store.usage.bytes} bytes`)

  await server.publish('lobby', 'line', 'after the flood')
  const back = await MessageClient.connect(url, { reconnect: false })
  cleanup.push(() => back.close())
  const again = await back.subscribe('lobby', { recover: true, since: left })
  const gaps: GapInfo[] = []
  const lines: unknown[] = []
  again.on('gap', (gap) => gaps.push(gap))
  again.on('message', (text) => lines.push(text))
  while (lines.length < 1) await new Promise((r) => setTimeout(r, 10))
  assert.equal(gaps.length, 1)
  assert.equal(gaps[0]!.reason, 'epoch')
  assert.deepEqual(gaps[0]!.previous, left)
  assert.deepEqual(lines, ['after the flood'])
})
