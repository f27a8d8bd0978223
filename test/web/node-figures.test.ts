import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import type { ServerStats } from '../../src/web/index.ts'
import { type NodeFiguresFeed, nodeFigures } from '../../src/web/index.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'

// Every node's figures through a real redis-server: each feed shares its samples, reads the others',
// works out rates and totals, marks a node gone when it says goodbye or falls silent, and reads what
// arrives on the channel as untrusted.
let redis: RedisServer
const cleanup: (() => unknown)[] = []
before(async () => {
  redis = await startRedisServer()
})
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
  await redis.stop()
})

let channels = 0
/** Feeds on a channel of their own (each test its own cluster). */
async function cluster(count: number, options: { expiry?: number } = {}): Promise<NodeFiguresFeed[]> {
  const channel = `test:figures:${++channels}`
  const feeds: NodeFiguresFeed[] = []
  for (let i = 0; i < count; i++) {
    const feed = nodeFigures({ node: `n${i}`, label: `node ${i}`, redis: redis.url, channel, ...options })
    cleanup.push(() => feed.close())
    await feed.ready()
    feeds.push(feed)
  }
  return feeds
}

function sample(at: number, n: number): ServerStats {
  return {
    at,
    connections: 3 * n,
    websockets: n,
    sessions: { connected: 2 * n, retained: 1 },
    rooms: n + 1,
    roomMembers: 4 * n,
    messages: { received: 100 * n * (at / 1000), sent: 200 * n * (at / 1000) },
    resends: 5 * n * (at / 1000),
    sessionsEnded: { lost: n },
    slowConsumersCut: n,
    rateLimited: 2 * n,
    outbox: { messages: 0, bytes: 0, maxMessages: 0 },
    eventLoopLagMs: 10 * n,
    memory: { rss: n * 2 ** 20, heapUsed: n * 2 ** 19, heapTotal: n * 2 ** 20 },
  }
}

async function until<T>(read: () => T, ok: (value: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = read()
    if (ok(value)) return value
    if (Date.now() > deadline) throw new Error(`not reached in ${ms} ms: ${JSON.stringify(value)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

test('each node lists every node with its per-second rates, and the totals of all', async () => {
  const [a, b] = await cluster(2)
  const t0 = Date.now()
  a!.share(sample(t0, 1))
  b!.share(sample(t0, 2))
  a!.share(sample(t0 + 1000, 1))
  b!.share(sample(t0 + 1000, 2))
  for (const feed of [a!, b!]) {
    const seen = await until(
      () => feed.snapshot(),
      (s) => s.nodes.length === 2 && s.nodes.every((n) => n.stats.at === t0 + 1000),
    )
    assert.equal(seen.nodes[0]!.self, true, 'this node first')
    const two = seen.nodes.find((n) => n.node === 'n1')!
    assert.equal(two.label, 'node 1')
    assert.deepEqual(two.perSecond, { received: 200, sent: 400, resends: 10 })
    assert.equal(seen.totals.nodes, 2)
    assert.equal(seen.totals.connections, 9)
    assert.equal(seen.totals.websockets, 3)
    assert.deepEqual(seen.totals.sessions, { connected: 6, retained: 2 })
    assert.equal(seen.totals.rooms, 3, 'the largest node: a room can span nodes')
    assert.equal(seen.totals.roomMembers, 12)
    assert.deepEqual(seen.totals.perSecond, { received: 300, sent: 600, resends: 15 })
    assert.equal(seen.totals.sessionsLost, 3)
    assert.equal(seen.totals.slowConsumersCut, 3)
    assert.equal(seen.totals.rateLimited, 6)
    assert.equal(seen.totals.eventLoopLagMs, 20, 'the worst node')
    assert.equal(seen.totals.memory.rss, 3 * 2 ** 20)
  }
})

test('a node that closes is marked gone at once and leaves the totals', async () => {
  const [a, b] = await cluster(2)
  a!.share(sample(Date.now(), 1))
  b!.share(sample(Date.now(), 2))
  await until(
    () => a!.snapshot(),
    (s) => s.nodes.length === 2,
  )
  await b!.close()
  const after = await until(
    () => a!.snapshot(),
    (s) => s.nodes.find((n) => n.node === 'n1')?.gone === true,
  )
  assert.equal(after.totals.nodes, 1)
  assert.equal(after.totals.connections, 3)
})

test('a node that falls silent (killed) is marked gone after the expiry, then forgotten', async () => {
  const channel = `test:figures:${++channels}`
  const a = nodeFigures({ node: 'a', label: 'a', redis: redis.url, channel, expiry: 400, forget: 1200 })
  const b = nodeFigures({ node: 'b', label: 'b', redis: redis.url, channel })
  cleanup.push(
    () => a.close(),
    () => b.close(),
  )
  await Promise.all([a.ready(), b.ready()])
  a.share(sample(Date.now(), 1))
  b.share(sample(Date.now(), 2))
  await until(
    () => a.snapshot(),
    (s) => s.nodes.length === 2,
  )
  // b stops sharing without a goodbye, as a SIGKILLed process would.
  assert.equal(a.snapshot().nodes[1]!.gone, false)
  const gone = await until(
    () => a.snapshot(),
    (s) => s.nodes[1]?.gone === true,
    3000,
  )
  assert.equal(gone.totals.nodes, 1)
  await until(
    () => a.snapshot(),
    (s) => s.nodes.length === 1,
    3000,
  )
  assert.equal(a.snapshot().nodes[0]!.node, 'a')
})

test('what arrives on the channel is read as untrusted: junk ignored, only numbers kept, node count bounded', async () => {
  const channel = `test:figures:${++channels}`
  const a = nodeFigures({ node: 'a', label: 'a', redis: redis.url, channel, maxNodes: 4 })
  cleanup.push(() => a.close())
  await a.ready()
  const raw = new Redis(redis.url)
  cleanup.push(() => raw.quit())
  a.share(sample(Date.now(), 1))
  await raw.publish(channel, 'not json')
  await raw.publish(channel, JSON.stringify({ node: '<script>', label: 'x', stats: {} }))
  await raw.publish(channel, JSON.stringify({ node: 'big', label: 'x', stats: {}, pad: 'x'.repeat(20_000) }))
  // Written by hand: JSON.stringify cannot make 1e400 (Infinity once parsed) or a "__proto__" key.
  await raw.publish(
    channel,
    `{"node":"evil","label":"${'L'.repeat(1000)}","stats":{"connections":"<img src=x>","rooms":-5,"websockets":1e400,"memory":{"rss":7},"__proto__":{"connections":9}}}`,
  )
  for (let i = 0; i < 10; i++)
    await raw.publish(channel, JSON.stringify({ node: `flood${i}`, label: 'f', stats: {} }))
  const seen = await until(
    () => a.snapshot(),
    (s) => s.nodes.length === 4,
  )
  await new Promise((r) => setTimeout(r, 200))
  const nodes = a.snapshot().nodes
  assert.deepEqual(
    nodes.map((n) => n.node),
    ['a', 'evil', 'flood0', 'flood1'],
    'junk and oversize messages ignored; at most maxNodes nodes',
  )
  const evil = seen.nodes.find((n) => n.node === 'evil')!
  assert.equal(evil.label.length, 200)
  assert.equal(evil.stats.connections, 0)
  assert.equal(evil.stats.rooms, 0)
  assert.equal(evil.stats.websockets, 0)
  assert.equal(evil.stats.memory.rss, 7)
})

test('without Redis, the list is this node alone', async () => {
  const feed = nodeFigures({ node: 'solo', label: 'solo' })
  await feed.ready()
  feed.share(sample(Date.now(), 1))
  const seen = feed.snapshot()
  assert.deepEqual(
    seen.nodes.map((n) => [n.node, n.self, n.gone]),
    [['solo', true, false]],
  )
  assert.equal(seen.totals.connections, 3)
  await feed.close()
})
