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

test('two MessageServers with Redis history: a client on node B recovers what node A published while it was away', async () => {
  const { MessageClient, MessageServer } = await import('../../src/messaging/index.ts')
  const history = { store: 'redis' as const, redis: redis.url, prefix: 'servers' }
  const a = new MessageServer({ history })
  const b = new MessageServer({ history, retention: 50 })
  const portOf = async (server: InstanceType<typeof MessageServer>) =>
    ((await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }).port
  const portB = await portOf(b)
  const client = await MessageClient.connect(`tcp://127.0.0.1:${portB}`, {
    reconnect: { initialDelay: 20, maxDelay: 100 },
  })
  try {
    const sub = await client.subscribe('lobby', { recover: true })
    const got: number[] = []
    sub.on('message', (data) => got.push((data as { n: number }).n))
    await new Promise((resolve) => setTimeout(resolve, 100))
    for (let n = 1; n <= 50; n++) await a.publish('lobby', 'chat', { n })
    await waitFor(() => got.length >= 50, 10_000, '50 from node A')
    // Node B goes away (its sessions with it); node A publishes on; a new node B on the same port: the
    // client gets a new session there and re-subscribes from its position, read from the shared stream.
    await b.close()
    for (let n = 51; n <= 100; n++) await a.publish('lobby', 'chat', { n })
    const b2 = new MessageServer({ history })
    await b2.listen({ port: portB, host: '127.0.0.1' })
    await waitFor(() => got.length >= 100, 20_000, `100 (have ${got.length})`)
    assert.deepEqual(
      got,
      Array.from({ length: 100 }, (_, i) => i + 1),
    )
    await b2.close()
  } finally {
    await client.close()
    await a.close()
    await b.close().catch(() => {})
  }
})
