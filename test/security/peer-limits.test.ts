// Per-peer limits: one client cannot make the server run unbounded handlers or hold unbounded rooms,
// and the other clients keep being served while it tries.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { MessageClient, MessageServer, type MessagingError } from '../../src/index.ts'
import { startServer } from '../messaging/helpers.ts'

const closers: (() => Promise<unknown>)[] = []
after(async () => {
  for (const close of closers.reverse()) await close()
})

async function latency(client: MessageClient): Promise<number> {
  const started = performance.now()
  assert.equal(await client.request('echo', 'x'), 'x')
  return performance.now() - started
}

test('2,000 requests to a slow handler run at most maxRequestsPerPeer handlers; the rest get WK_BACKPRESSURE and another client stays fast', async () => {
  const { server, url } = await startServer({ maxRequestsPerPeer: 50 })
  closers.push(() => server.close())
  let running = 0
  let most = 0
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  server.handle('slow', async () => {
    most = Math.max(most, ++running)
    await gate
    running--
    return 'done'
  })
  server.handle('echo', (data) => data)
  const attacker = await MessageClient.connect(url, { reconnect: false })
  const other = await MessageClient.connect(url, { reconnect: false })
  closers.push(
    () => attacker.close(),
    () => other.close(),
  )
  const before = Math.min(await latency(other), await latency(other))
  const outcomes = Array.from({ length: 2000 }, () =>
    attacker.request('slow', null, { timeout: 20_000 }).then(
      () => 'done',
      (error: MessagingError) => error.code,
    ),
  )
  // Let the flood arrive, then measure the other client while 50 handlers are parked.
  await new Promise((r) => setTimeout(r, 300))
  const during = Math.max(await latency(other), await latency(other))
  release()
  const codes = await Promise.all(outcomes)
  assert.equal(most, 50)
  assert.equal(codes.filter((c) => c === 'done').length >= 50, true)
  assert.equal(codes.filter((c) => c === 'WK_BACKPRESSURE').length >= 1900, true)
  assert.deepEqual(new Set(codes), new Set(['done', 'WK_BACKPRESSURE']))
  // Generous margin for a loaded machine: the point is that it is not seconds.
  assert.ok(
    during < before + 1000,
    `other client: ${before.toFixed(1)} ms before, ${during.toFixed(1)} ms during`,
  )
})

test('peer.join() beyond maxRoomsPerPeer throws WK_BACKPRESSURE and the peer keeps its rooms', async () => {
  const { server, url } = await startServer({ maxRoomsPerPeer: 20 })
  closers.push(() => server.close())
  server.handle('join', (room: string, peer) => {
    peer.join(room)
    return [...peer.rooms].filter((r) => r !== peer.id).length
  })
  const client = await MessageClient.connect(url, { reconnect: false })
  closers.push(() => client.close())
  for (let i = 0; i < 20; i++) await client.request('join', `room-${i}`)
  // Joining a room it is already in is not growth.
  assert.equal(await client.request('join', 'room-0'), 20)
  await assert.rejects(client.request('join', 'room-20'), (error: MessagingError) => {
    assert.equal(error.code, 'WK_REMOTE_ERROR')
    assert.equal((error as MessagingError & { remoteCode?: string }).remoteCode, 'WK_BACKPRESSURE')
    return true
  })
  const [peer] = server.peers.values()
  assert.equal([...peer!.rooms].filter((r) => r !== peer!.id).length, 20)
})

test('the per-peer defaults are 256 concurrent requests and 1000 rooms', () => {
  const limits = new MessageServer().limits
  assert.equal(limits.maxRequestsPerPeer, 256)
  assert.equal(limits.maxRoomsPerPeer, 1000)
})
