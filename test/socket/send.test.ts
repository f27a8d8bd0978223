// AsyncSocket.send: the write with no promise. Same queue as write(): call order with promise writes,
// bytesWritten, pending/queued byte counts, the high-water mark; refused after end() and destroy(),
// and a send that would overflow maxWriteQueue closes the socket instead of leaving a hole.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, describe, test } from 'node:test'
import tls from 'node:tls'
import { isWirekitError } from '../../src/errors.ts'
import { AsyncSocket } from '../../src/socket/index.ts'
import { makeCerts } from '../helpers/certs.ts'
import { collect, pairWithRaw, Resources, within } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())

const item = (i: number): string => `${String(i).padStart(3, '0')},`

describe('AsyncSocket.send', () => {
  test('sends mixed with promise writes reach the peer in call order, each reported by a write event', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const tags: unknown[] = []
    client.on('write', (tag) => tags.push(tag))
    const writes: Promise<void>[] = []
    for (let i = 0; i < 60; i++) {
      if (i % 3 === 0) writes.push(client.write(item(i), { tag: i }))
      else assert.equal(client.send(item(i), i), true)
    }
    const received = collect(peer, 60 * 4, 10_000)
    await within(Promise.all(writes), 5000, 'writes')
    assert.equal((await received).toString(), Array.from({ length: 60 }, (_, i) => item(i)).join(''))
    for (let i = 0; i < 100 && tags.length < 60; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.deepEqual(
      tags,
      Array.from({ length: 60 }, (_, i) => i),
    )
  })

  test('bytesWritten counts sent bytes once the kernel has them', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const completed = once(client, 'write')
    client.send(Buffer.alloc(1000, 7), 'last')
    assert.equal(client.bytesWritten, 0, 'not counted before the kernel took them')
    assert.deepEqual(await within(completed, 5000, 'write event'), ['last'])
    assert.equal(client.bytesWritten, 1000)
    assert.equal((await collect(peer, 1000, 10_000)).length, 1000)
  })

  test('send() after end() queues nothing and returns false', async () => {
    const { client, peer } = await pairWithRaw(resources)
    assert.equal(client.send('before'), true)
    const ended = client.end()
    assert.equal(client.send('after'), false)
    await within(ended, 5000, 'end')
    const text = await within(
      new Promise<string>((resolve) => {
        let all = ''
        peer.on('data', (chunk: Buffer) => {
          all += chunk.toString()
        })
        peer.on('end', () => resolve(all))
      }),
      5000,
      'peer end',
    )
    assert.equal(text, 'before')
    assert.equal(client.bytesWritten, 'before'.length)
  })

  test('send() after destroy() returns false, and sends still queued are dropped with the socket', async () => {
    const { client, peer } = await pairWithRaw(resources, {
      writeHighWaterMark: 16 * 1024,
      maxWriteQueue: 64 * 1024 * 1024,
    })
    peer.pause()
    for (let i = 0; i < 400; i++) client.send(Buffer.alloc(64 * 1024))
    for (let i = 0; i < 50 && client.queuedWriteBytes === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10))
    assert.ok(client.queuedWriteBytes > 0, 'sends wait behind the high-water mark')
    client.destroy()
    assert.equal(client.send('late'), false)
    assert.equal(client.state, 'closed')
    assert.equal(client.queuedWriteBytes, 0)
    assert.equal(client.pendingWriteBytes, 0)
  })

  test('against a peer that does not read, sends wait past the high-water mark, counted in the byte counts, then all arrive', async () => {
    const writeHighWaterMark = 256 * 1024
    const { client, peer } = await pairWithRaw(resources, {
      writeHighWaterMark,
      maxWriteQueue: 64 * 1024 * 1024,
    })
    peer.pause()
    const chunk = Buffer.alloc(64 * 1024, 1)
    for (let i = 0; i < 512; i++) assert.equal(client.send(chunk), true)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const inStream = client.pendingWriteBytes - client.queuedWriteBytes
    assert.ok(client.queuedWriteBytes > 0, 'the kernel buffers filled and sends are waiting')
    assert.ok(inStream <= writeHighWaterMark + chunk.length, `stream holds ${inStream} bytes`)
    const total = 512 * chunk.length
    assert.ok(client.bytesWritten < total, 'not everything completed')
    assert.equal(client.bytesWritten + client.pendingWriteBytes, total, 'every byte is written or pending')
    const done = within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (client.bytesWritten === total) resolve()
        }
        client.on('write', check)
        check()
      }),
      20_000,
      'all sends complete',
    )
    const received = collect(peer, total, 10_000)
    await done
    assert.equal((await received).length, total)
    assert.equal(client.pendingWriteBytes, 0)
  })

  test('a send that would overflow maxWriteQueue closes the socket with WK_BACKPRESSURE', async () => {
    const { client, peer } = await pairWithRaw(resources, {
      writeHighWaterMark: 16 * 1024,
      maxWriteQueue: 1024 * 1024,
    })
    peer.pause()
    const closed = once(client, 'close')
    const chunk = Buffer.alloc(256 * 1024)
    let refusedAt = -1
    for (let i = 0; i < 200 && refusedAt < 0; i++) {
      if (!client.send(chunk)) refusedAt = i
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.ok(refusedAt > 0, 'some sends were queued before the overflow')
    const [error] = await within(closed, 5000, 'close')
    assert.ok(isWirekitError(error, 'WK_BACKPRESSURE'), `got ${String(error)}`)
    assert.equal(client.send('more'), false)
  })

  // With no 'write' listener a send hands its bytes to the stream with no completion callback (the
  // cheap path a fan-out takes); what the kernel has not taken yet is still tracked, so the counts,
  // end() and the order hold just the same.
  test('with no write listener, bytes the kernel took at once count at once, and the rest count once it takes them', async () => {
    const { client, peer } = await pairWithRaw(resources, { maxWriteQueue: 64 * 1024 * 1024 })
    assert.equal(client.send(Buffer.alloc(1000, 7)), true)
    assert.equal(client.bytesWritten, 1000, 'a small send to an idle connection is complete at once')
    assert.equal(client.pendingWriteBytes, 0)
    peer.pause()
    const chunk = Buffer.alloc(64 * 1024, 2)
    for (let i = 0; i < 256; i++) assert.equal(client.send(chunk), true)
    const total = 1000 + 256 * chunk.length
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.ok(client.bytesWritten < total, 'the kernel cannot take it all while the peer does not read')
    assert.equal(client.bytesWritten + client.pendingWriteBytes, total, 'every byte is written or pending')
    const received = collect(peer, total, 10_000)
    peer.resume()
    const ended = client.end() // resolves once the kernel has every byte, then FIN
    assert.equal((await within(received, 10_000, 'all bytes')).length, total)
    await within(ended, 5000, 'end')
    assert.equal(client.bytesWritten, total)
    assert.equal(client.pendingWriteBytes, 0)
  })

  test('with no write listener, sends over TLS all arrive in order and count, and end() waits for them', async () => {
    const certs = makeCerts()
    const { promise: text, resolve } = Promise.withResolvers<string>()
    const server = resources.add(
      tls.createServer({ key: certs.server.key, cert: certs.server.cert }, (socket) => {
        let all = ''
        socket.setEncoding('latin1')
        socket.on('data', (chunk: string) => {
          all += chunk
        })
        socket.on('end', () => resolve(all))
      }),
      (s) => new Promise((done) => s.close(() => done(undefined))),
    )
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready))
    const { port } = server.address() as { port: number }
    const client = resources.socket(
      await AsyncSocket.connect({ host: 'localhost', port, family: 4, tls: { ca: certs.ca } }),
    )
    const expected = Array.from({ length: 2000 }, (_, i) => item(i % 1000)).join('') + 'x'.repeat(300_000)
    for (let i = 0; i < 2000; i++) client.send(item(i % 1000))
    client.send('x'.repeat(300_000))
    await within(client.end(), 5000, 'end')
    assert.equal(client.bytesWritten, expected.length)
    assert.equal(await within(text, 5000, 'server got the end'), expected)
  })

  test('with no write listener, a send the kernel refuses at once (EPIPE after the peer reset) is not counted, and the socket closes with the error', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const readClosed = once(client, 'readClosed')
    peer.destroy() // FIN; the peer's kernel then answers anything more with RST
    await within(readClosed, 5000, 'readClosed')
    assert.equal(client.send('first'), true) // the kernel takes it; the RST comes back
    await new Promise((resolve) => setTimeout(resolve, 100))
    const closed = once(client, 'close')
    client.send('second')
    const [error] = await within(closed, 5000, 'close')
    assert.ok(isWirekitError(error, 'WK_CONNECTION_RESET'), `got ${String(error)}`)
    assert.equal(client.bytesWritten, 'first'.length, 'the refused send is not counted as written')
  })

  test('send() rejects what is not bytes or a string with WK_INVALID_ARGUMENT', async () => {
    const { client } = await pairWithRaw(resources)
    assert.throws(
      () => client.send(42 as unknown as Uint8Array),
      (error) => isWirekitError(error, 'WK_INVALID_ARGUMENT'),
    )
  })
})
