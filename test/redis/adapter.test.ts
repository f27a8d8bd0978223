// Two RedisAdapters in one process on a real redis-server: broadcast across nodes, except, presence,
// and a session resumed on the other node.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { MessageClient, MessageServer, type Peer, RedisAdapter } from '../../src/messaging/index.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'
import { type FailoverProxy, startFailoverProxy } from './fixtures/failover-proxy.ts'
import { sleep, waitFor } from './fixtures/wait.ts'

type Node = { server: MessageServer; adapter: RedisAdapter; port: number; url: string }

async function startNode(redis: string, prefix: string, retention = 10_000): Promise<Node> {
  const adapter = new RedisAdapter({ redis, prefix, retention })
  // Every client is who it says it is, or anonymous; a BigInt identity cannot cross nodes as JSON.
  const server = new MessageServer({
    adapter,
    retention,
    authenticate: (credentials) => {
      const name = (credentials as { name?: unknown } | undefined)?.name
      return name === 'big' ? { big: 1n } : (name ?? 'anonymous')
    },
  })
  server.on('connection', (peer: Peer) => {
    peer.on('join', (room: string) => peer.join(room))
  })
  const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
  await adapter.ready()
  return { server, adapter, port: address.port, url: `tcp://127.0.0.1:${address.port}` }
}

describe('RedisAdapter with two nodes in one process', () => {
  let redis: RedisServer
  let one: Node
  let two: Node
  const clients: MessageClient[] = []
  const inbox = new Map<MessageClient, string[]>()

  const connect = async (url: string): Promise<MessageClient> => {
    const client = await MessageClient.connect(url, { reconnect: { initialDelay: 20, maxDelay: 200 } })
    inbox.set(client, [])
    for (const event of ['news', 'all', 'fast']) {
      client.on(event, (data: unknown) => inbox.get(client)!.push(`${event}:${JSON.stringify(data)}`))
    }
    clients.push(client)
    return client
  }
  const clear = (): void => {
    for (const list of inbox.values()) list.length = 0
  }

  before(async () => {
    redis = await startRedisServer()
    const prefix = `t${randomBytes(4).toString('hex')}`
    one = await startNode(redis.url, prefix)
    two = await startNode(redis.url, prefix)
  })

  after(async () => {
    for (const client of clients) await client.close()
    await one.server.close()
    await two.server.close()
    await redis.stop()
  })

  test('to(room).emit on one node reaches the room members on both nodes, and nobody else', async () => {
    const a = await connect(one.url)
    const b = await connect(two.url)
    const c = await connect(two.url)
    await a.emit('join', 'r1')
    await b.emit('join', 'r1')
    clear()
    one.server.to('r1').emit('news', 1)
    await waitFor(() => inbox.get(a)!.length === 1 && inbox.get(b)!.length === 1, 5000, 'room delivery')
    await sleep(50)
    assert.deepEqual(inbox.get(a), ['news:1'])
    assert.deepEqual(inbox.get(b), ['news:1'])
    assert.deepEqual(inbox.get(c), [])
  })

  test('broadcasts from both nodes reach every client once, in one order that all clients share', async () => {
    clear()
    for (let i = 0; i < 50; i++) (i % 2 === 0 ? one : two).server.emit('all', i)
    await waitFor(() => clients.every((c) => inbox.get(c)!.length >= 50), 5000, 'fifty broadcasts')
    await sleep(50)
    const first = inbox.get(clients[0]!)!
    assert.deepEqual([...first].sort(), Array.from({ length: 50 }, (_, i) => `all:${i}`).sort())
    for (const client of clients) assert.deepEqual(inbox.get(client), first)
    // Each node's own broadcasts keep the order it sent them in.
    const fromOne = first.filter((m) => Number(m.slice(4)) % 2 === 0)
    assert.deepEqual(
      fromOne,
      Array.from({ length: 25 }, (_, i) => `all:${i * 2}`),
    )
  })

  test('except(room) excludes the members of that room on every node', async () => {
    const [a, b, c] = clients as [MessageClient, MessageClient, MessageClient]
    await c.emit('join', 'r1')
    await b.emit('join', 'quiet')
    clear()
    two.server.to('r1').except('quiet').emit('news', 2)
    await waitFor(() => inbox.get(a)!.length === 1 && inbox.get(c)!.length === 1, 5000, 'except delivery')
    await sleep(50)
    assert.deepEqual(inbox.get(b), [])
  })

  test('volatile broadcasts reach connected clients on the other node', async () => {
    clear()
    one.server.volatile.emit('fast', 'v')
    await waitFor(() => clients.every((c) => inbox.get(c)!.length === 1), 5000, 'volatile delivery')
    for (const client of clients) assert.deepEqual(inbox.get(client), ['fast:"v"'])
  })

  test('fetchPeers(room) lists the sessions in the room on every node', async () => {
    const [a, b, c] = clients as [MessageClient, MessageClient, MessageClient]
    const inRoom = await one.adapter.fetchPeers('r1')
    const ids = inRoom.map((p) => p.id).sort()
    assert.deepEqual(ids, [a.sessionId, b.sessionId, c.sessionId].sort())
    const byId = new Map(inRoom.map((p) => [p.id, p]))
    assert.equal(byId.get(a.sessionId!)!.node, one.adapter.node)
    assert.equal(byId.get(b.sessionId!)!.node, two.adapter.node)
    assert.ok(inRoom.every((p) => p.connected))
    const quiet = await two.adapter.fetchPeers('quiet')
    assert.deepEqual(
      quiet.map((p) => p.id),
      [b.sessionId],
    )
    const everyone = await two.adapter.fetchPeers()
    assert.equal(everyone.length, clients.length)
    assert.ok(everyone.every((p) => p.identity === 'anonymous'))
  })

  test('fetchPeers carries identities from every node; one JSON cannot carry arrives as undefined', async () => {
    const named = await MessageClient.connect(one.url, { credentials: { name: 'named' } })
    const big = await MessageClient.connect(one.url, { credentials: { name: 'big' } })
    try {
      await named.emit('join', 'ids')
      await big.emit('join', 'ids')
      const fromOther = await two.adapter.fetchPeers('ids')
      const byId = new Map(fromOther.map((p) => [p.id, p.identity]))
      assert.equal(byId.size, 2)
      assert.equal(byId.get(named.sessionId!), 'named')
      assert.equal(byId.get(big.sessionId!), undefined)
      // On its own node the identity is the value itself.
      const local = await one.server.fetchPeers('ids')
      assert.ok(local.some((p) => p.identity === 'named'))
    } finally {
      await named.close()
      await big.close()
    }
  })

  test('bad bytes on the broadcast channel are counted and do not disturb delivery', async () => {
    const { Redis } = await import('ioredis')
    const raw = new Redis(redis.url)
    try {
      const before = one.adapter.stats.malformed
      // The adapter uses sharded pub/sub on Redis 7; publish garbage on every plausible channel name.
      const channels = (await raw.call('PUBSUB', 'SHARDCHANNELS')) as string[]
      for (const channel of channels)
        await raw.call('SPUBLISH', channel, Buffer.from([0x42, 0x20, 0xff, 0x0a, 1]))
      await waitFor(() => one.adapter.stats.malformed > before, 5000, 'malformed count')
      clear()
      one.server.emit('all', 'after')
      await waitFor(() => clients.every((c) => inbox.get(c)!.length === 1), 5000, 'delivery after garbage')
    } finally {
      raw.disconnect()
    }
  })
})

describe('RedisAdapter sessions', () => {
  let redis: RedisServer
  let one: Node
  let two: Node
  let proxy: FailoverProxy
  let client: MessageClient | undefined

  before(async () => {
    redis = await startRedisServer()
    const prefix = `t${randomBytes(4).toString('hex')}`
    one = await startNode(redis.url, prefix)
    two = await startNode(redis.url, prefix)
    proxy = await startFailoverProxy([one.port, two.port])
  })

  after(async () => {
    await client?.close()
    await proxy.close()
    await one.server.close()
    await two.server.close()
    await redis.stop()
  })

  test('a session resumes on the other node with its rooms, unacknowledged and missed messages', async () => {
    const received: number[] = []
    const lost: unknown[] = []
    client = await MessageClient.connect(proxy.url, { reconnect: { initialDelay: 20, maxDelay: 100 } })
    client.on('news', (n: number) => received.push(n))
    client.on('sessionLost', (m: unknown) => lost.push(m))
    const id = client.sessionId
    await client.emit('join', 'r')
    for (let i = 0; i < 20; i++) two.server.to('r').emit('news', i)
    await waitFor(() => received.length === 20, 5000, 'first twenty')
    // Node one goes away; the client reconnects through the proxy to node two.
    await one.server.close()
    for (let i = 20; i < 40; i++) two.server.to('r').emit('news', i)
    await waitFor(
      () => received.length === 40,
      10_000,
      () => `forty, got ${received.length}`,
    )
    for (let i = 40; i < 50; i++) two.server.to('r').emit('news', i)
    await waitFor(() => received.length === 50, 5000, 'fifty')
    assert.equal(client.sessionId, id)
    assert.deepEqual(lost, [])
    assert.deepEqual(
      received,
      Array.from({ length: 50 }, (_, i) => i),
    )
    const peers = await two.adapter.fetchPeers('r')
    assert.deepEqual(
      peers.map((p) => [p.id, p.node]),
      [[id, two.adapter.node]],
    )
  })
})
