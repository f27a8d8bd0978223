import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MessageClient, type MessageServer, type Peer } from '../../src/messaging/index.ts'
import { startServer, waitFor } from './helpers.ts'

describe('push, rooms and broadcast', () => {
  let server: MessageServer
  const clients: MessageClient[] = []
  const inbox = new Map<MessageClient, unknown[]>()
  const peers: Peer[] = []
  let a: MessageClient
  let b: MessageClient
  let c: MessageClient

  before(async () => {
    const started = await startServer()
    server = started.server
    server.on('connection', (peer: Peer) => {
      peers.push(peer)
      peer.on('join', (room: string) => peer.join(room))
      peer.on('say', (msg: { room: string; text: string }) =>
        server.to(msg.room).except(peer.id).emit('said', msg.text),
      )
    })
    for (let i = 0; i < 3; i++) {
      const client = await MessageClient.connect(started.url)
      inbox.set(client, [])
      for (const event of ['news', 'said', 'all', 'fast', 'direct']) {
        client.on(event, (data: unknown) => inbox.get(client)!.push(`${event}:${JSON.stringify(data)}`))
      }
      clients.push(client)
    }
    ;[a, b, c] = clients as [MessageClient, MessageClient, MessageClient]
    await waitFor(() => peers.length === 3, 2000, 'three peers')
  })

  after(async () => {
    for (const client of clients) await client.close()
    await server.close()
  })

  const clear = () => {
    for (const list of inbox.values()) list.length = 0
  }
  const peerOf = (client: MessageClient) => server.peers.get(client.sessionId!)!

  test('peer.emit pushes to one client and resolves when that client acknowledges', async () => {
    clear()
    await peerOf(b).emit('direct', { to: 'b' })
    assert.deepEqual(inbox.get(b), ['direct:{"to":"b"}'])
    assert.deepEqual(inbox.get(a), [])
  })

  test('to(room).emit reaches the members of the room only', async () => {
    clear()
    await a.emit('join', 'r1')
    await b.emit('join', 'r1')
    server.to('r1').emit('news', 1)
    await waitFor(() => inbox.get(a)!.length === 1 && inbox.get(b)!.length === 1, 2000, 'room delivery')
    await new Promise((r) => setTimeout(r, 30))
    assert.deepEqual(inbox.get(c), [])
  })

  test('except(room) leaves out the sender (its own room is its id)', async () => {
    clear()
    await a.emit('say', { room: 'r1', text: 'hi' })
    await waitFor(() => inbox.get(b)!.length === 1, 2000, 'b to hear a')
    await new Promise((r) => setTimeout(r, 30))
    assert.deepEqual(inbox.get(b), ['said:"hi"'])
    assert.deepEqual(inbox.get(a), [])
    assert.deepEqual(inbox.get(c), [])
  })

  test('a peer in several target rooms gets one copy; leave() stops delivery', async () => {
    clear()
    await a.emit('join', 'r2')
    server.to('r1').to('r2').emit('news', 2)
    await waitFor(() => inbox.get(b)!.length === 1 && inbox.get(a)!.length === 1, 2000, 'delivery')
    await new Promise((r) => setTimeout(r, 30))
    assert.deepEqual(inbox.get(a), ['news:2'])
    peerOf(a).leave('r1')
    peerOf(a).leave('r2')
    clear()
    server.to('r1').emit('news', 3)
    await waitFor(() => inbox.get(b)!.length === 1, 2000, 'b')
    await new Promise((r) => setTimeout(r, 30))
    assert.deepEqual(inbox.get(a), [])
    assert.deepEqual(server.to('r1').peers, [peerOf(b).id])
  })

  test('server.emit broadcasts to everyone; except() narrows it', async () => {
    clear()
    server.emit('all', 'x')
    server.except('r1').emit('all', 'y')
    await waitFor(() => [a, b, c].every((cl) => inbox.get(cl)!.length >= 1), 2000, 'broadcast')
    await new Promise((r) => setTimeout(r, 30))
    assert.deepEqual(inbox.get(a), ['all:"x"', 'all:"y"'])
    assert.deepEqual(inbox.get(b), ['all:"x"'])
    assert.deepEqual(inbox.get(c), ['all:"x"', 'all:"y"'])
  })

  test('volatile broadcasts and volatile client emits are delivered when connected', async () => {
    clear()
    server.volatile.emit('fast', 1)
    await waitFor(() => inbox.get(c)!.length === 1, 2000, 'volatile broadcast')
    let heard: unknown
    peerOf(c).on('v', (d: unknown) => (heard = d))
    assert.equal(c.volatile.emit('v', 'ping'), true)
    await waitFor(() => heard === 'ping', 2000, 'volatile emit')
  })

  test('a broadcast larger than maxFrameLength throws at once instead of failing per peer', () => {
    assert.throws(() => server.emit('all', 'z'.repeat(2 * 1024 * 1024)), { code: 'WK_INVALID_ARGUMENT' })
  })
})
