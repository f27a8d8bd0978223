// A client that completes the handshake and then never reads while the server pushes: the server (in its
// own process, so its memory is measured alone) must stay under a stated bound and cut the peer with
// WK_SLOW_CONSUMER; other clients keep being served.
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import { lengthField } from '../../src/framing/index.ts'
import { MessageClient } from '../../src/messaging/index.ts'
import { Format, Kind } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { type ChildServer, startChildServer } from './child-server.ts'
import { MiB } from './resources.ts'
import { waitFor } from './stream-harness.ts'

/** Payload per push and pushes attempted: 100k × 1 KiB would be ~100 MiB if the server buffered it all. */
const SIZE = 1024
const PUSHES = 100_000
/** The server's peer buffer (the default): 8 MiB of unacknowledged messages. */
const PEER_BUFFER = 8 * MiB
/** Stated bound on the server process's growth while the peer stalls: the buffer, its encoding, slack. */
const RSS_BOUND = 64 * MiB
const HEAP_BOUND = 40 * MiB

const codec = lengthField({ lengthFieldLength: 4 })

describe('slow consumer', () => {
  let server: ChildServer
  let stalled: Socket
  let good: MessageClient | undefined

  before(async () => {
    server = await startChildServer({ peerBuffer: { maxBytes: PEER_BUFFER } })
  })

  after(async () => {
    stalled?.destroy()
    await good?.close()
    await server.kill()
  })

  test('a peer that stops reading is cut with WK_SLOW_CONSUMER while server memory stays bounded', {
    timeout: 60_000,
  }, async () => {
    server.command({ cmd: 'memory' })
    const baseline = await server.next('memory')

    // Handshake by hand, then stop reading for good: nothing is acknowledged either.
    stalled = connect({ host: '127.0.0.1', port: server.port })
    stalled.on('error', () => {})
    await new Promise((resolve) => stalled.once('connect', resolve))
    const welcomed = new Promise((resolve) => stalled.once('data', resolve))
    stalled.write(
      encodeFrame(codec, Kind.HELLO, Format.JSON, { body: JSON.stringify({ v: 1, lastReceived: 0 }) }),
    )
    await welcomed
    stalled.pause()

    // Volatile pushes are dropped, not buffered: the peer is not cut for them.
    server.command({ cmd: 'flood', volatile: true, count: PUSHES / 2, size: SIZE })
    const volatile = await server.next('flood', 30_000)
    assert.equal(volatile.error, undefined, 'volatile pushes cut the peer')

    server.command({ cmd: 'flood', volatile: false, count: PUSHES, size: SIZE })
    const reliable = await server.next('flood', 30_000)
    const cut = await server.next('disconnect', 10_000)
    const rssGrowth = Math.max(volatile.peakRss, reliable.peakRss) - baseline.rss
    const heapGrowth = Math.max(volatile.peakHeap, reliable.peakHeap) - baseline.heapUsed
    console.log(
      `[chaos] slow consumer: ${PUSHES / 2} volatile + ${reliable.sent}/${PUSHES} reliable pushes of ${SIZE} B before the cut ` +
        `(${cut.code}); server peak RSS +${(rssGrowth / MiB).toFixed(1)} MiB (bound ${RSS_BOUND / MiB}), ` +
        `peak heap +${(heapGrowth / MiB).toFixed(1)} MiB (bound ${HEAP_BOUND / MiB})`,
    )
    assert.equal(cut.code, ErrorCodes.SLOW_CONSUMER)
    assert.ok(reliable.sent < PUSHES / 4, `${reliable.sent} pushes accepted before the cut`)
    assert.ok(rssGrowth < RSS_BOUND, `server RSS grew by ${(rssGrowth / MiB).toFixed(1)} MiB`)
    assert.ok(heapGrowth < HEAP_BOUND, `server heap grew by ${(heapGrowth / MiB).toFixed(1)} MiB`)
    // The stalled connection is closed by the server (after its short linger), not held open.
    let handles = { sockets: -1, connections: -1, peers: -1 }
    const deadline = Date.now() + 8000
    while (Date.now() < deadline) {
      server.command({ cmd: 'handles' })
      handles = await server.next('handles')
      if (handles.sockets === 0) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal(handles.sockets, 0, 'the server still holds the stalled socket')
    assert.equal(cut.peers, 0, 'the cut session is not retained')
  })

  test('after the cut, a well-behaved client is served normally', { timeout: 30_000 }, async () => {
    good = await MessageClient.connect(`tcp://127.0.0.1:${server.port}`)
    const echoed: number[] = []
    good.on('s', (i: number) => echoed.push(i))
    for (let i = 0; i < 100; i++) await good.emit('c', i)
    await waitFor(() => echoed.length === 100, 10_000, 'the pushes back')
    assert.deepEqual(
      echoed,
      Array.from({ length: 100 }, (_, i) => i),
    )
  })
})
