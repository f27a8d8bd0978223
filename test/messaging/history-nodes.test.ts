// Durable rooms on two nodes sharing one real redis-server (Redis Streams store): a feed on node B gets
// what node A publishes, once and in order (notice, then a read of the shared log); after Redis restarts
// without its data, B's feed is told with an 'epoch' gap, never silence, then gets the new publications.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { type CursorEvent, DurableRooms } from '../../src/messaging/cluster/history/index.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'
import { waitFor } from './helpers.ts'

let redis: RedisServer
const nodes: DurableRooms[] = []
before(async () => {
  redis = await startRedisServer()
})
after(async () => {
  await Promise.allSettled(nodes.map((n) => n.close()))
  await redis.stop()
})
const node = (): DurableRooms => {
  const n = new DurableRooms({ store: 'redis', redis: redis.url, prefix: 'nodes' })
  nodes.push(n)
  return n
}

test('a feed on another node gets every publication once, in order; a Redis that lost its data is an epoch gap', async () => {
  const a = node()
  const b = node()
  const got: number[] = []
  const gaps: string[] = []
  const deliver = (event: CursorEvent): void => {
    if (event.type === 'message') got.push(Number(Buffer.from(event.entry.data).toString()))
    else gaps.push(`${event.gap.reason} after ${event.gap.previous?.offset}`)
  }
  b.subscribe('lobby', await b.store.head('lobby'), deliver)
  await new Promise((resolve) => setTimeout(resolve, 100)) // B's notice subscription is in place
  const first = []
  for (let n = 1; n <= 200; n++) first.push(a.publish('lobby', 'm', Buffer.from(String(n))))
  await Promise.all(first)
  await waitFor(() => got.length >= 200, 10_000, '200 on node B')
  assert.deepEqual(
    got,
    Array.from({ length: 200 }, (_, i) => i + 1),
  )

  await redis.restart(100)
  let published = false
  for (let i = 0; i < 100 && !published; i++) {
    published = await a.publish('lobby', 'm', Buffer.from('1001')).then(
      () => true,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 100))
        return false
      },
    )
  }
  assert.ok(published, 'Redis never came back')
  await waitFor(() => got.length >= 201, 10_000, 'the first publication after the restart')
  assert.deepEqual(gaps, ['epoch after 200'])
  assert.equal(got.at(-1), 1001)
  assert.equal(got.length, 201)
})
