import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { MemoryAdapter, MessageClient, MessageServer, type Peer } from '../../src/messaging/index.ts'
import { CopyStore, Relay, waitFor } from './helpers.ts'

describe('session store (what a distributed adapter builds on)', () => {
  const cleanup: (() => unknown)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  test('a session stored as copies resumes on another server with nothing lost or duplicated', async () => {
    const store = new CopyStore()
    const serverA = new MessageServer({ adapter: new MemoryAdapter(store) })
    const serverB = new MessageServer({ adapter: new MemoryAdapter(store) })
    cleanup.push(
      () => serverA.close(),
      () => serverB.close(),
    )
    const a = (await serverA.listen({ port: 0 })) as { port: number }
    const b = (await serverB.listen({ port: 0 })) as { port: number }
    const relay = await Relay.start(a.port)
    cleanup.push(() => relay.close())

    const fromClient: number[] = []
    const onPeer = (peer: Peer) => peer.on('c', (i: number) => fromClient.push(i))
    serverA.on('connection', onPeer)
    serverB.on('connection', onPeer)
    const client = await MessageClient.connect(relay.url, { reconnect: { initialDelay: 20, maxDelay: 50 } })
    cleanup.push(() => client.close())
    const fromServer: number[] = []
    client.on('s', (i: number) => fromServer.push(i))
    let lost = 0
    client.on('sessionLost', () => lost++)

    const peerA = serverA.peers.get(client.sessionId!)!
    const sends: Promise<void>[] = []
    for (let i = 0; i < 500; i++) sends.push(client.emit('c', i))
    for (let i = 0; i < 500; i++) peerA.emit('s', i).catch(() => {})
    await Promise.all(sends)
    // Node A goes away; B picks the session up from the store.
    relay.targetPort = b.port
    await serverA.close()
    await waitFor(() => serverB.peers.has(client.sessionId!), 5000, 'the session to resume on server B')
    const peerB = serverB.peers.get(client.sessionId!)!
    assert.equal(peerB.restored, true)
    const more: Promise<void>[] = []
    for (let i = 500; i < 1000; i++) more.push(client.emit('c', i))
    for (let i = 500; i < 1000; i++) more.push(peerB.emit('s', i))
    await Promise.all(more)
    await waitFor(() => fromServer.length >= 1000, 5000, 'server pushes')
    const expected = Array.from({ length: 1000 }, (_, i) => i)
    assert.deepEqual(fromClient, expected)
    assert.deepEqual(fromServer, expected)
    assert.equal(lost, 0)
    assert.ok(
      store.updates > 0 && store.updates < 200,
      `${store.updates} store updates for 2000 messages (batched per flush)`,
    )
  })
})
