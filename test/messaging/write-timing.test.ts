// When bytes leave: a long burst of emits is written during the burst, a client's lone ack waits a
// little (broadcast storms) but never long enough to stall the server's per-peer buffer.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { MessageClient, type Peer } from '../../src/messaging/index.ts'
import { startServer, waitFor } from './helpers.ts'

describe('write and ack timing', () => {
  const cleanup: (() => unknown)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  test('a long burst of emits is handed to the socket before the burst ends, in order', async () => {
    const { server, url } = await startServer()
    cleanup.push(() => server.close())
    const got: number[] = []
    server.on('connection', (peer: Peer) => peer.on('n', (m: { i: number }) => got.push(m.i)))
    const client = await MessageClient.connect(url)
    cleanup.push(() => client.close())
    const sends: Promise<void>[] = []
    let writtenDuringBurst = false
    for (let i = 0; i < 3000; i++) {
      sends.push(client.emit('n', { i, pad: 'x'.repeat(40) }))
      if ((client.conn?.writingBytes ?? 0) > 0) writtenDuringBurst = true
    }
    assert.ok(writtenDuringBurst, 'some bytes were written while the loop was still emitting')
    await Promise.all(sends)
    assert.deepEqual(
      got,
      Array.from({ length: 3000 }, (_, i) => i),
    )
  })

  test('a lone message to a client is acknowledged within the delayed-ack bound', async () => {
    const { server, url } = await startServer()
    cleanup.push(() => server.close())
    const client = await MessageClient.connect(url)
    cleanup.push(() => client.close())
    let received = 0
    client.on('one', () => received++)
    const peer = server.peers.get(client.sessionId!)!
    const started = Date.now()
    await peer.emit('one', 1)
    // About 20 ms in a quiet process (up to 1 s while it keeps reading other bursts); a loaded machine gets a margin.
    assert.ok(Date.now() - started < 2000, `acknowledged after ${Date.now() - started} ms`)
    assert.equal(received, 1)
    assert.equal(peer.outbox.count, 0)
  })

  test('a client receiving bursts acks them soon enough for a small per-peer buffer', async () => {
    const { server, url } = await startServer({ peerBuffer: { maxMessages: 40 } })
    cleanup.push(() => server.close())
    const client = await MessageClient.connect(url)
    cleanup.push(() => client.close())
    let received = 0
    client.on('tick', () => received++)
    let lost = 0
    client.on('sessionLost', () => lost++)
    const peer = server.peers.get(client.sessionId!)!
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 10; i++) peer.emit('tick', i).catch(() => {})
      // 30 rounds take far less than the 200 ms delay bound: only the size rule keeps the buffer small.
      await new Promise((r) => setTimeout(r, 3))
    }
    await waitFor(() => received === 300, 5000, 'every tick')
    assert.equal(peer.closed, false, 'the healthy client was not cut as a slow consumer')
    assert.equal(lost, 0)
  })
})
