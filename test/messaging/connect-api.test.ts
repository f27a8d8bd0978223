// The follow-up API: fetchPeers, multi-URL failover, first-connect retries, and what the server tells
// its session store (retention at open, the client's lastReceived at claim).
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, describe, test } from 'node:test'
import { MemoryAdapter, MessageClient, MessageServer, type Peer } from '../../src/messaging/index.ts'
import { CopyStore, nextEvent, Relay, startServer, waitFor } from './helpers.ts'

/** A loopback port nobody listens on (taken and released). */
async function freePort(): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const port = (probe.address() as net.AddressInfo).port
  await new Promise((r) => probe.close(r))
  return port
}

describe('connect and store API', () => {
  const cleanup: (() => unknown)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  test('fetchPeers lists sessions by room, connected or retained, with the adapter node', async () => {
    const adapter = new MemoryAdapter()
    const { server, port } = await startServer({ adapter, retention: 10_000 })
    cleanup.push(() => server.close())
    server.on('connection', (peer: Peer) => peer.on('join', (room: string) => peer.join(room)))
    const relay = await Relay.start(port)
    cleanup.push(() => relay.close())
    const a = await MessageClient.connect(relay.url, { reconnect: false })
    const b = await MessageClient.connect(relay.url.replace(String(relay.port), String(port)))
    cleanup.push(
      () => a.close(),
      () => b.close(),
    )
    await b.emit('join', 'lobby')

    const all = await server.fetchPeers()
    assert.deepEqual(all.map((p) => p.id).sort(), [a.sessionId, b.sessionId].sort())
    assert.ok(all.every((p) => p.node === adapter.node && p.connected))
    assert.deepEqual(await server.fetchPeers('lobby'), [
      { id: b.sessionId, node: adapter.node, connected: true, identity: undefined },
    ])
    assert.deepEqual(await server.fetchPeers('nobody-here'), [])

    // a's transport goes away without a goodbye: its session is retained, not connected.
    relay.cutAll()
    await waitFor(() => server.peers.get(a.sessionId!)?.connected === false, 5000, 'a to be detached')
    const after = await server.fetchPeers()
    assert.deepEqual(after.find((p) => p.id === a.sessionId)?.connected, false)
  })

  test('connect rejects at once on a refused first connection unless retryFirstConnect is set', async () => {
    const dead = `tcp://127.0.0.1:${await freePort()}`
    await assert.rejects(MessageClient.connect(dead))
    const started = Date.now()
    await assert.rejects(
      MessageClient.connect(dead, {
        reconnect: { initialDelay: 10, maxDelay: 20, maxAttempts: 3, retryFirstConnect: true },
      }),
    )
    // Three retries of at most 20 ms each: it waited, but gave up.
    assert.ok(Date.now() - started >= 10, 'retried with a delay')
  })

  test('retryFirstConnect waits for a server that starts late', async () => {
    const port = await freePort()
    const server = new MessageServer()
    cleanup.push(() => server.close())
    const late = setTimeout(() => void server.listen({ port, host: '127.0.0.1' }), 200)
    cleanup.push(() => clearTimeout(late))
    const client = await MessageClient.connect(`tcp://127.0.0.1:${port}`, {
      reconnect: { initialDelay: 20, maxDelay: 50, retryFirstConnect: true },
    })
    cleanup.push(() => client.close())
    assert.equal(client.state, 'connected')
    await client.emit('hello', 1)
  })

  test('with several URLs a refused first URL fails over to the next', async () => {
    const dead = `tcp://127.0.0.1:${await freePort()}`
    const { server, url } = await startServer()
    cleanup.push(() => server.close())
    const client = await MessageClient.connect([dead, url], {
      reconnect: { initialDelay: 10, maxDelay: 20, retryFirstConnect: true },
    })
    cleanup.push(() => client.close())
    assert.deepEqual(client.urls, [dead, url])
    assert.equal(client.url, url)
    assert.equal(client.state, 'connected')
  })

  test('a client whose node dies resumes its session on the next URL with nothing lost', async () => {
    const store = new CopyStore()
    const serverA = new MessageServer({ adapter: new MemoryAdapter(store) })
    const serverB = new MessageServer({ adapter: new MemoryAdapter(store) })
    cleanup.push(
      () => serverA.close(),
      () => serverB.close(),
    )
    const a = (await serverA.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
    const b = (await serverB.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
    const received: number[] = []
    const onPeer = (peer: Peer) => peer.on('n', (i: number) => received.push(i))
    serverA.on('connection', onPeer)
    serverB.on('connection', onPeer)
    const urls = [`tcp://127.0.0.1:${a.port}`, `tcp://127.0.0.1:${b.port}`]
    const client = await MessageClient.connect(urls, { reconnect: { initialDelay: 10, maxDelay: 30 } })
    cleanup.push(() => client.close())
    let lost = 0
    client.on('sessionLost', () => lost++)
    for (let i = 0; i < 100; i++) await client.emit('n', i)
    const resumed = nextEvent(client, 'resumed', 10_000)
    await serverA.close()
    await resumed
    assert.equal(client.url, urls[1])
    const more: Promise<void>[] = []
    for (let i = 100; i < 200; i++) more.push(client.emit('n', i))
    await Promise.all(more)
    assert.deepEqual(
      received,
      Array.from({ length: 200 }, (_, i) => i),
    )
    assert.equal(lost, 0)
  })

  test('the server passes its retention to open and the client position to claim', async () => {
    const store = new CopyStore()
    const { server, port } = await startServer({ adapter: new MemoryAdapter(store), retention: 4321 })
    cleanup.push(() => server.close())
    const relay = await Relay.start(port)
    cleanup.push(() => relay.close())
    const client = await MessageClient.connect(relay.url, { reconnect: { initialDelay: 10, maxDelay: 30 } })
    cleanup.push(() => client.close())
    const peer = server.peers.get(client.sessionId!)!
    const got: number[] = []
    client.on('s', (i: number) => got.push(i))
    for (let i = 0; i < 7; i++) await peer.emit('s', i)
    assert.deepEqual(store.opened, [4321])
    const resumed = nextEvent(client, 'resumed')
    relay.cutAll()
    await resumed
    assert.deepEqual(store.claims, [{ lastReceived: 7, token: peer.resumeToken, identity: undefined }])
  })

  test('a stale stored copy ends in sessionLost on the client, not a protocol close', async () => {
    const store = new CopyStore()
    const serverA = new MessageServer({ adapter: new MemoryAdapter(store) })
    const serverB = new MessageServer({ adapter: new MemoryAdapter(store) })
    cleanup.push(
      () => serverA.close(),
      () => serverB.close(),
    )
    const a = (await serverA.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
    const b = (await serverB.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
    const relay = await Relay.start(a.port)
    cleanup.push(() => relay.close())
    const client = await MessageClient.connect(relay.url, { reconnect: { initialDelay: 10, maxDelay: 30 } })
    cleanup.push(() => client.close())
    const got: number[] = []
    client.on('s', (i: number) => got.push(i))
    // The store stops hearing about the session: its copy says nothing was ever sent.
    store.frozen = true
    const peerA = serverA.peers.get(client.sessionId!)!
    for (let i = 0; i < 5; i++) await peerA.emit('s', i)
    const lost = nextEvent(client, 'sessionLost', 10_000)
    relay.targetPort = b.port
    await serverA.close()
    await lost
    await waitFor(() => client.state === 'connected', 5000, 'the new session')
    assert.deepEqual(store.claims.at(-1), { lastReceived: 5, token: peerA.resumeToken, identity: undefined })
    // The new session works: the server was not left with a protocol error.
    const echoed = nextEvent<number>(client, 'back')
    serverB.on('connection', () => {})
    serverB.peers
      .get(client.sessionId!)!
      .on('ping', () => serverB.peers.get(client.sessionId!)!.emit('back', 42))
    await client.emit('ping', 1)
    assert.equal(await echoed, 42)
    assert.deepEqual(got, [0, 1, 2, 3, 4])
  })
})
