// Durable rooms on a real redis-server (issue 12, "never silence"): a subscriber that joined a room while it
// was empty, missed what was published next (its connection went dark) and comes back after Redis lost
// its data (restart without persistence) to another node: it is told with an 'epoch' gap, not left to
// believe the new log is all there ever was.

import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { type GapInfo, MessageClient, type MessageServer } from '../../src/messaging/index.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'
import { Relay, startServer, waitFor } from './helpers.ts'

const cleanup: (() => Promise<unknown>)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {})
})

async function node(redis: RedisServer): Promise<{ server: MessageServer; port: number }> {
  const { server, port } = await startServer({
    history: { store: 'redis', redis: redis.url, prefix: 'empty' },
  })
  server.on('error', () => {}) // reads refused while Redis restarts are retried by the feeds
  cleanup.push(() => server.close())
  return { server, port }
}

/** Publishes, retrying while ioredis reconnects to the restarted Redis. */
async function publishWhenBack(server: MessageServer, data: unknown) {
  for (let i = 0; i < 100; i++) {
    try {
      return await server.publish('lobby', 'm', data)
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  throw new Error('Redis never came back')
}

test('a subscriber of an empty Redis room that missed a publication lost with Redis data gets an epoch gap', async () => {
  const redis = await startRedisServer()
  cleanup.push(() => redis.stop())
  const a = await node(redis)
  const b = await node(redis)
  const relay = await Relay.start(a.port)
  cleanup.push(() => relay.close())

  const client = await MessageClient.connect(relay.url, { reconnect: { initialDelay: 20, maxDelay: 200 } })
  cleanup.push(() => client.close())
  client.on('error', () => {})
  const sub = await client.subscribe('lobby', { recover: true })
  const got: unknown[] = []
  const gaps: GapInfo[] = []
  sub.on('message', (data) => got.push(data))
  sub.on('gap', (gap) => gaps.push(gap))

  // The subscriber's connection goes dark; 'unseen' is acknowledged to the publisher but never reaches it.
  relay.blackhole = true
  const unseen = await a.server.publish('lobby', 'm', { n: 'unseen' })
  await redis.restart(100) // without persistence: 'unseen' is gone with the room's log
  const next = await publishWhenBack(b.server, { n: 'after' })
  assert.notEqual(next.epoch, unseen.epoch)

  // The subscriber comes back to the other node, which knows nothing of its session.
  relay.targetPort = b.port
  relay.blackhole = false
  relay.cutAll()
  await waitFor(() => got.length >= 1, 15_000, "the subscriber to get 'after'")
  assert.deepEqual(got, [{ n: 'after' }])
  assert.deepEqual(
    gaps,
    [
      {
        room: 'lobby',
        reason: 'epoch',
        epoch: next.epoch,
        from: 1,
        to: 0,
        count: 0,
        previous: { offset: 0, epoch: unseen.epoch },
      },
    ],
    `'unseen' (${JSON.stringify(unseen)}) was lost with Redis's data and the subscriber was not told`,
  )
})
