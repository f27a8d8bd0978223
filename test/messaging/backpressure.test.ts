import assert from 'node:assert/strict'
import net from 'node:net'
import { after, describe, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { lengthField } from '../../src/framing/index.ts'
import { MessageClient, type Peer } from '../../src/messaging/index.ts'
import { Format, Kind } from '../../src/messaging/wire/envelope.ts'
import { encodeFrame } from '../../src/messaging/wire/frame-writer.ts'
import { nextEvent, Relay, startServer, waitFor } from './helpers.ts'

describe('bounded buffers', () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn()
  })

  test('a full outbox (by count) rejects the next send with WK_BACKPRESSURE', async () => {
    const { server, port } = await startServer()
    const relay = await Relay.start(port)
    const client = await MessageClient.connect(relay.url, { outbox: { maxMessages: 5 } })
    cleanup.push(
      () => server.close(),
      () => relay.close(),
      () => client.close(),
    )
    relay.blackhole = true
    const pending = Array.from({ length: 5 }, (_, i) => client.emit('e', i))
    for (const p of pending) p.catch(() => {})
    await assert.rejects(client.emit('e', 5), (e) => isWirekitError(e, ErrorCodes.BACKPRESSURE))
    await assert.rejects(client.request('r', 5), (e) => isWirekitError(e, ErrorCodes.BACKPRESSURE))
  })

  test('volatile emits are dropped (not buffered) while disconnected', async () => {
    const { server, url } = await startServer()
    const client = await MessageClient.connect(url, { reconnect: { initialDelay: 5000 } })
    cleanup.push(() => client.close())
    await server.close()
    await waitFor(() => client.state === 'reconnecting', 2000, 'the client to notice')
    assert.equal(client.volatile.emit('typing', true), false)
    assert.equal(client.outbox.count, 0)
  })

  test('a full outbox (by bytes) rejects, and room comes back once acknowledged', async () => {
    const { server, port } = await startServer()
    const relay = await Relay.start(port)
    const client = await MessageClient.connect(relay.url, { outbox: { maxBytes: 4096 } })
    cleanup.push(
      () => server.close(),
      () => relay.close(),
      () => client.close(),
    )
    relay.blackhole = true
    const big = 'x'.repeat(1500)
    const first = [client.emit('e', big), client.emit('e', big)]
    await assert.rejects(client.emit('e', big), (e) => isWirekitError(e, ErrorCodes.BACKPRESSURE))
    relay.blackhole = false
    await client.emit('e', 'small') // written after the unblock: its ack covers the two before it too
    await Promise.all(first)
    await client.emit('e', big)
  })

  test('a peer that never reads or acknowledges is cut with WK_SLOW_CONSUMER; the server stays bounded', async () => {
    const { server, port, url } = await startServer({ peerBuffer: { maxBytes: 64 * 1024 } })
    cleanup.push(() => server.close())
    const codec = lengthField({ lengthFieldLength: 4 })
    const connected = nextEvent<Peer>(server, 'connection')
    const raw = net.connect({ host: '127.0.0.1', port })
    raw.on('error', () => {})
    cleanup.push(async () => raw.destroy())
    raw.write(
      encodeFrame(codec, Kind.HELLO, Format.JSON, { body: JSON.stringify({ v: 1, lastReceived: 0 }) }),
    )
    const peer = await connected
    raw.pause() // never reads again
    const ended = new Promise<Error>((resolve) =>
      server.once('disconnect', (_peer: Peer, reason: Error) => resolve(reason)),
    )
    const payload = 'y'.repeat(1000)
    let refused: unknown
    const sends: Promise<void>[] = []
    for (let i = 0; i < 1000 && refused === undefined; i++) {
      sends.push(peer.emit('flood', payload).catch((e) => void (refused ??= e)))
      if (i % 20 === 19) await new Promise((r) => setImmediate(r))
    }
    await Promise.all(sends)
    assert.ok(isWirekitError(refused, ErrorCodes.SLOW_CONSUMER), String(refused))
    const reason = await ended
    assert.ok(isWirekitError(reason, ErrorCodes.SLOW_CONSUMER))
    assert.equal(peer.closed, true)
    assert.equal(server.peers.size, 0)
    // Others are unaffected.
    server.handle('ok', () => 'ok')
    const client = await MessageClient.connect(url)
    cleanup.push(() => client.close())
    assert.equal(await client.request('ok'), 'ok')
  })

  test('a broadcast skips (cuts) a slow peer without failing for the others', async () => {
    const { server, port, url } = await startServer({ peerBuffer: { maxMessages: 50 } })
    cleanup.push(() => server.close())
    const relay = await Relay.start(port)
    cleanup.push(() => relay.close())
    const slow = await MessageClient.connect(relay.url, { reconnect: false })
    const fast = await MessageClient.connect(url)
    cleanup.push(
      () => slow.close(),
      () => fast.close(),
    )
    let got = 0
    fast.on('tick', () => got++)
    relay.blackhole = true
    for (let i = 0; i < 100; i++) {
      server.emit('tick', i)
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5))
    }
    await waitFor(() => got === 100, 5000, 'the fast client to get every tick')
    await waitFor(() => server.peers.size === 1, 2000, 'the slow peer to be cut')
  })
})
