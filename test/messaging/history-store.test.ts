// The history log contract, run against every store (memory, SQLite file, real redis-server): numbering,
// paging, the three limits, and "what is gone" reported exactly (trimmed ranges, another epoch).

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { isWirekitError } from '../../src/errors.ts'
import {
  type HistoryLimits,
  type HistoryStore,
  MemoryHistoryStore,
  RedisHistoryStore,
  SqliteHistoryStore,
} from '../../src/messaging/cluster/history/index.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'

type Options = HistoryLimits & { clock?: () => number; rooms?: Record<string, HistoryLimits> }
type Kind = { name: string; open: (options?: Options) => HistoryStore }

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (data: Uint8Array): string => new TextDecoder().decode(data)

let redis: RedisServer
let dir: string
let files = 0
let prefixes = 0
const opened: HistoryStore[] = []
const track = (store: HistoryStore): HistoryStore => {
  opened.push(store)
  return store
}

before(async () => {
  redis = await startRedisServer()
  dir = mkdtempSync(join(tmpdir(), 'wirekit-history-'))
})
after(async () => {
  await Promise.allSettled(opened.map((s) => s.close()))
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
})

const kinds: Kind[] = [
  { name: 'memory', open: (o) => track(new MemoryHistoryStore(o)) },
  {
    name: 'sqlite',
    open: (o) => track(new SqliteHistoryStore({ ...o, path: join(dir, `h${files++}.sqlite`) })),
  },
  {
    name: 'redis',
    open: (o) => track(new RedisHistoryStore({ ...o, redis: redis.url, prefix: `t${prefixes++}` })),
  },
]

async function appendTexts(store: HistoryStore, room: string, texts: string[]) {
  return Promise.all(texts.map((t) => store.append(room, 'chat', bytes(t))))
}

for (const kind of kinds) {
  describe(`${kind.name} history store`, () => {
    test('appends are numbered 1, 2, 3 in call order under one epoch', async () => {
      const store = kind.open()
      const positions = await appendTexts(store, 'r', ['a', 'b', 'c'])
      assert.deepEqual(
        positions.map((p) => p.offset),
        [1, 2, 3],
      )
      assert.equal(new Set(positions.map((p) => p.epoch)).size, 1)
      assert.notEqual(positions[0]!.epoch, '')
      assert.deepEqual(await store.head('r'), positions[2])
    })

    test('rooms are numbered independently', async () => {
      const store = kind.open()
      await appendTexts(store, 'one', ['a', 'b'])
      const [first] = await appendTexts(store, 'two', ['x'])
      assert.equal(first!.offset, 1)
    })

    test('read after a position returns the entries after it, in order, with name and data', async () => {
      const store = kind.open()
      const [p1] = await appendTexts(store, 'r', ['a', 'b', 'c'])
      const page = await store.read('r', { after: p1! })
      assert.deepEqual(
        page.entries.map((e) => [e.offset, e.name, text(e.data)]),
        [
          [2, 'chat', 'b'],
          [3, 'chat', 'c'],
        ],
      )
      assert.equal(page.gap, undefined)
      assert.deepEqual(page.head, { offset: 3, epoch: p1!.epoch })
    })

    test('read pages by limit and a page never passes the head', async () => {
      const store = kind.open()
      const positions = await appendTexts(store, 'r', ['a', 'b', 'c', 'd', 'e'])
      const epoch = positions[0]!.epoch
      const one = await store.read('r', { after: { offset: 0, epoch }, limit: 2 })
      assert.deepEqual(
        one.entries.map((e) => e.offset),
        [1, 2],
      )
      const two = await store.read('r', { after: { offset: 4, epoch }, limit: 2 })
      assert.deepEqual(
        two.entries.map((e) => e.offset),
        [5],
      )
      const none = await store.read('r', { after: { offset: 5, epoch } })
      assert.deepEqual(none.entries, [])
      assert.equal(none.gap, undefined)
    })

    test('a room never written reads empty with no gap for the position "before any log"', async () => {
      const store = kind.open()
      const page = await store.read('nobody', { after: { offset: 0, epoch: '' } })
      assert.deepEqual(page.entries, [])
      assert.equal(page.gap, undefined)
      assert.equal(page.head.offset, 0)
    })

    test('a position taken before the first append reads everything after it', async () => {
      const store = kind.open()
      const before = await store.head('late')
      await appendTexts(store, 'late', ['a', 'b'])
      const page = await store.read('late', { after: before })
      assert.deepEqual(
        page.entries.map((e) => e.offset),
        [1, 2],
      )
      assert.equal(page.gap, undefined)
    })

    test('maxMessages keeps the newest and a read of trimmed offsets names exactly what is gone', async () => {
      const store = kind.open({ maxMessages: 3 })
      const positions = await appendTexts(store, 'r', ['1', '2', '3', '4', '5', '6'])
      const epoch = positions[0]!.epoch
      const page = await store.read('r', { after: { offset: 1, epoch } })
      assert.deepEqual(page.gap, { reason: 'trimmed', room: 'r', epoch, from: 2, to: 3, count: 2 })
      assert.deepEqual(
        page.entries.map((e) => text(e.data)),
        ['4', '5', '6'],
      )
      assert.equal(page.first, 4)
    })

    test('maxBytes drops the oldest entries until the room fits', async () => {
      // 'chat' (4 bytes) + 6 bytes of data = 10 bytes an entry; 25 bytes keep two.
      const store = kind.open({ maxBytes: 25 })
      const positions = await appendTexts(store, 'r', ['aaaaaa', 'bbbbbb', 'cccccc', 'dddddd'])
      const page = await store.read('r', { after: { offset: 0, epoch: positions[0]!.epoch } })
      assert.deepEqual(
        page.entries.map((e) => e.offset),
        [3, 4],
      )
      assert.deepEqual(page.gap && [page.gap.from, page.gap.to], [1, 2])
    })

    test('maxAge drops entries older than the limit, even when nothing is appended since', async () => {
      let now = 1_000_000
      const store = kind.open({ maxAge: 1000, clock: () => now })
      const [p1] = await appendTexts(store, 'r', ['old'])
      now += 600
      await appendTexts(store, 'r', ['young'])
      now += 600 // 'old' is 1200 ms old, 'young' 600 ms
      const page = await store.read('r', { after: { offset: 0, epoch: p1!.epoch } })
      assert.deepEqual(
        page.entries.map((e) => text(e.data)),
        ['young'],
      )
      assert.deepEqual(page.gap && [page.gap.reason, page.gap.from, page.gap.to], ['trimmed', 1, 1])
      now += 1000
      const empty = await store.read('r', { after: { offset: 2, epoch: p1!.epoch } })
      assert.deepEqual(empty.entries, [])
      assert.equal(empty.gap, undefined)
      assert.equal(empty.first, 3)
      const [next] = await appendTexts(store, 'r', ['later'])
      assert.equal(next!.offset, 3, 'offsets go on after the log emptied')
    })

    test('a position from another epoch reports an epoch gap and reads from the oldest kept', async () => {
      const store = kind.open({ maxMessages: 2 })
      const positions = await appendTexts(store, 'r', ['a', 'b', 'c'])
      const epoch = positions[0]!.epoch
      const page = await store.read('r', { after: { offset: 7, epoch: 'elsewhere' } })
      assert.deepEqual(page.gap, {
        reason: 'epoch',
        room: 'r',
        epoch,
        from: 1,
        to: 1,
        count: 1,
        previous: { offset: 7, epoch: 'elsewhere' },
      })
      assert.deepEqual(
        page.entries.map((e) => e.offset),
        [2, 3],
      )
    })

    test('a position beyond the head of this epoch is reported as another incarnation', async () => {
      const store = kind.open()
      const [p1] = await appendTexts(store, 'r', ['a'])
      const page = await store.read('r', { after: { offset: 9, epoch: p1!.epoch } })
      assert.equal(page.gap?.reason, 'epoch')
      assert.deepEqual(
        page.entries.map((e) => e.offset),
        [1],
      )
    })

    test('rooms matching a pattern get their own limits, the first matching pattern wins', async () => {
      const store = kind.open({
        maxMessages: 100,
        rooms: { 'tiny:*': { maxMessages: 1 }, 't*': { maxMessages: 2 } },
      })
      for (const room of ['tiny:1', 'two', 'other']) await appendTexts(store, room, ['a', 'b', 'c'])
      const kept = async (room: string) => (await store.read(room)).entries.map((e) => e.offset)
      assert.deepEqual(await kept('tiny:1'), [3])
      assert.deepEqual(await kept('two'), [2, 3])
      assert.deepEqual(await kept('other'), [1, 2, 3])
    })

    test('a read limit that is not a positive integer throws WK_INVALID_ARGUMENT', async () => {
      const store = kind.open()
      await assert.rejects(store.read('r', { limit: 0 }), (e) => isWirekitError(e, 'WK_INVALID_ARGUMENT'))
    })

    test('append after close rejects with WK_CLOSED', async () => {
      const store = kind.open()
      await store.close()
      await assert.rejects(store.append('r', 'chat', bytes('x')), (e) => isWirekitError(e, 'WK_CLOSED'))
    })
  })
}

test('limits that are not positive throw WK_INVALID_ARGUMENT at construction', () => {
  assert.throws(
    () => new MemoryHistoryStore({ maxMessages: 0 }),
    (e) => isWirekitError(e, 'WK_INVALID_ARGUMENT'),
  )
  assert.throws(
    () => new MemoryHistoryStore({ maxAge: -1 }),
    (e) => isWirekitError(e, 'WK_INVALID_ARGUMENT'),
  )
  assert.throws(
    () => new MemoryHistoryStore({ maxBytes: 1.5 }),
    (e) => isWirekitError(e, 'WK_INVALID_ARGUMENT'),
  )
})
