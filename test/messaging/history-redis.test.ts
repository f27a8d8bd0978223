// The Redis Streams history store on a real redis-server: a Redis that lost its data is a new epoch
// (old positions get an 'epoch' gap, never new offsets with old numbers), both keys of a room share one
// cluster hash slot, a caller's client is left open, and an unreachable Redis fails with WK_HISTORY_FAILED.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { isWirekitError } from '../../src/errors.ts'
import { RedisHistoryStore } from '../../src/messaging/cluster/history/index.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'

let redis: RedisServer
const stores: RedisHistoryStore[] = []
const open = (prefix: string, client?: Redis): RedisHistoryStore => {
  const store = new RedisHistoryStore({ redis: client ?? redis.url, prefix })
  stores.push(store)
  return store
}
before(async () => {
  redis = await startRedisServer()
})
after(async () => {
  await Promise.allSettled(stores.map((s) => s.close()))
  await redis.stop()
})

/** The part of a key Redis Cluster hashes (its hash tag), per the cluster specification. */
function hashTag(key: string): string {
  const open = key.indexOf('{')
  if (open < 0) return key
  const close = key.indexOf('}', open + 1)
  return close < 0 || close === open + 1 ? key : key.slice(open + 1, close)
}

test('both keys of a room carry the same non-empty hash tag, whatever the room name', async () => {
  const client = new Redis(redis.url)
  after(() => client.quit())
  const store = open('slots', client)
  for (const room of ['lobby', '}odd{', '', 'a}b']) await store.append(room, 'm', Buffer.from('x'))
  const keys = await client.keys('slots:*')
  assert.equal(keys.length, 8)
  const tags = new Map<string, string[]>()
  for (const key of keys) {
    const stream = key.endsWith(':m') ? key.slice(0, -2) : key
    tags.set(stream, [...(tags.get(stream) ?? []), hashTag(key)])
  }
  for (const [stream, [a, b]] of tags) {
    assert.equal(a, b, `keys of ${stream} hash differently`)
    assert.ok(a!.startsWith('h:'), `${stream} has no room hash tag`)
  }
})

test('a store given an ioredis client does not close it', async () => {
  const client = new Redis(redis.url)
  after(() => client.quit())
  const store = new RedisHistoryStore({ redis: client, prefix: 'mine' })
  await store.append('r', 'm', Buffer.from('x'))
  await store.close()
  assert.equal(await client.ping(), 'PONG')
})

test('a Redis restarted without its data starts a new epoch and old positions get an epoch gap', async () => {
  const store = open('lost')
  const before = await Promise.all([1, 2, 3].map((i) => store.append('r', 'm', Buffer.from(`m${i}`))))
  const old = before[2]!
  await redis.restart(100)
  let next: { offset: number; epoch: string } | undefined
  for (let i = 0; i < 50 && next === undefined; i++) {
    next = await store.append('r', 'm', Buffer.from('after')).catch(async () => {
      await new Promise((resolve) => setTimeout(resolve, 100)) // ioredis is reconnecting
      return undefined
    })
  }
  assert.ok(next !== undefined, 'Redis never came back')
  assert.equal(next.offset, 1)
  assert.notEqual(next.epoch, old.epoch)
  const page = await store.read('r', { after: old })
  assert.deepEqual(page.gap, {
    reason: 'epoch',
    room: 'r',
    epoch: next.epoch,
    from: 1,
    to: 0,
    count: 0,
    previous: old,
  })
  assert.deepEqual(
    page.entries.map((e) => Buffer.from(e.data).toString()),
    ['after'],
  )
})

test('a position read while the room is gone from Redis reports the epoch gap before any new append', async () => {
  const store = open('gone')
  const old = await store.append('r', 'm', Buffer.from('x'))
  const client = new Redis(redis.url)
  after(() => client.quit())
  await client.flushall()
  const page = await store.read('r', { after: old })
  assert.equal(page.gap?.reason, 'epoch')
  // The read made the room's next log, so the position it hands on names it (never `{ 0, '' }`).
  assert.equal(page.head.offset, 0)
  assert.notEqual(page.head.epoch, '')
  assert.notEqual(page.head.epoch, old.epoch)
  assert.deepEqual(await store.head('r'), page.head)
})

test('a Redis that lost its data after a subscriber took the head of an empty room gives it an epoch gap', async () => {
  const store = open('empty')
  const start = await store.head('r') // what a subscriber to the empty room starts from
  const unseen = await store.append('r', 'm', Buffer.from('unseen')) // acknowledged, never delivered
  await redis.restart(100)
  let next: { offset: number; epoch: string } | undefined
  for (let i = 0; i < 50 && next === undefined; i++) {
    next = await store.append('r', 'm', Buffer.from('after')).catch(async () => {
      await new Promise((resolve) => setTimeout(resolve, 100)) // ioredis is reconnecting
      return undefined
    })
  }
  assert.ok(next !== undefined, 'Redis never came back')
  const page = await store.read('r', { after: start })
  assert.deepEqual(
    page.gap,
    { reason: 'epoch', room: 'r', epoch: next.epoch, from: 1, to: 0, count: 0, previous: start },
    `'unseen' (${JSON.stringify(unseen)}) was lost with Redis's data and nothing said so`,
  )
  assert.deepEqual(start, { offset: 0, epoch: unseen.epoch })
  assert.notEqual(next.epoch, unseen.epoch)
})

test('head and read of a room Redis never held agree on one new epoch', async () => {
  const store = open('fresh')
  const page = await store.read('never')
  assert.notEqual(page.head.epoch, '')
  assert.deepEqual(page.head, { offset: 0, epoch: page.head.epoch })
  assert.deepEqual(await store.head('never'), page.head)
  assert.deepEqual(await store.head('other'), await store.head('other'))
  const first = await store.append('never', 'm', Buffer.from('x'))
  assert.deepEqual(first, { offset: 1, epoch: page.head.epoch })
})

test('appends while Redis is unreachable reject with WK_HISTORY_FAILED', async () => {
  const down = await startRedisServer()
  const store = new RedisHistoryStore({ redis: down.url, prefix: 'down' })
  stores.push(store)
  await store.append('r', 'm', Buffer.from('x'))
  await down.kill()
  try {
    await assert.rejects(store.append('r', 'm', Buffer.from('y')), (e) =>
      isWirekitError(e, 'WK_HISTORY_FAILED'),
    )
    await assert.rejects(store.read('r'), (e) => isWirekitError(e, 'WK_HISTORY_FAILED'))
  } finally {
    await store.close()
    await down.stop()
  }
})
