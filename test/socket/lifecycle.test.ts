// Connecting, timing out and closing: connect errors by code, read timeouts and their extension,
// aborts, half-close in both directions, RST, destroy, graceful close, Unix sockets, diagnostics.
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { once } from 'node:events'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { isWirekitError } from '../../src/errors.ts'
import { AsyncServer, AsyncSocket } from '../../src/socket/index.ts'
import { pairWithRaw, Resources, track, within } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())

/** A port with a listener that never accepts: a worker binds it (backlog 1) and then blocks its loop. */
async function blackHolePort(): Promise<number> {
  const worker = new Worker(
    `const net = require('node:net'); const { parentPort } = require('node:worker_threads')
     const server = net.createServer(); server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(server.address().port)
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000)
     })`,
    { eval: true },
  )
  resources.add(worker, (w) => w.terminate())
  const [port] = (await once(worker, 'message')) as [number]
  // Fill the accept queue: once a connect no longer completes, SYNs are being dropped.
  for (let i = 0; i < 8; i++) {
    const filler = resources.add(net.connect(port, '127.0.0.1'), (s) => s.destroy())
    filler.on('error', () => {})
    const connected = await Promise.race([
      once(filler, 'connect').then(() => true),
      new Promise((resolve) => setTimeout(resolve, 300, false)),
    ])
    if (!connected) return port
  }
  throw new Error('the accept queue never filled')
}

describe('connecting', () => {
  test('a refused connection rejects with WK_CONNECT_REFUSED', async () => {
    const server = net.createServer().listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as net.AddressInfo).port
    await new Promise((resolve) => server.close(resolve))
    await assert.rejects(AsyncSocket.connect({ host: '127.0.0.1', port }), (error) =>
      isWirekitError(error, 'WK_CONNECT_REFUSED'),
    )
  })

  test('a connect that gets no answer rejects with WK_CONNECT_TIMEOUT after its timeout', async () => {
    const port = await blackHolePort()
    const started = performance.now()
    await assert.rejects(
      within(AsyncSocket.connect({ host: '127.0.0.1', port, timeout: 300 }), 10_000, 'connect'),
      (error) => isWirekitError(error, 'WK_CONNECT_TIMEOUT'),
    )
    assert.ok(performance.now() - started >= 250)
  })

  test('an aborted connect rejects with WK_ABORTED and fails the reads queued on it', async () => {
    const port = await blackHolePort()
    const controller = new AbortController()
    const socket = AsyncSocket.open({ host: '127.0.0.1', port, signal: controller.signal })
    const read = socket.read({ length: 1 })
    setTimeout(() => controller.abort(), 50)
    await assert.rejects(socket.ready, (error) => isWirekitError(error, 'WK_ABORTED'))
    await assert.rejects(read, (error) => isWirekitError(error, 'WK_ABORTED'))
  })

  test('a name that does not resolve rejects with WK_HOST_NOT_FOUND', async () => {
    await assert.rejects(
      within(AsyncSocket.connect({ host: 'no-such-host.invalid', port: 80 }), 20_000, 'connect'),
      (error) => isWirekitError(error, 'WK_HOST_NOT_FOUND'),
    )
  })

  test('bad connect options throw WK_INVALID_ARGUMENT at once', () => {
    assert.throws(
      () => AsyncSocket.open({ host: '127.0.0.1', port: 70000 }),
      (e) => isWirekitError(e, 'WK_INVALID_ARGUMENT'),
    )
    assert.throws(
      () => AsyncSocket.open({ path: '' }),
      (e) => isWirekitError(e, 'WK_INVALID_ARGUMENT'),
    )
  })

  test('a Unix socket path works like host and port', async () => {
    const path = join(tmpdir(), `wirekit-${process.pid}-${Date.now()}.sock`)
    const server = resources.add(
      await AsyncServer.listen({ path }, async (socket) => {
        await socket.write(await socket.read({ until: '\n' }))
      }),
      (s) => s.close(),
    )
    assert.deepEqual(server.address, { path })
    const client = resources.socket(await AsyncSocket.connect({ path }))
    await client.write('over unix\n')
    assert.equal((await within(client.read({ until: '\n' }), 2000, 'echo')).toString(), 'over unix\n')
  })

  test('connect and close are published on diagnostics channels', async () => {
    const seen: string[] = []
    const onConnect = (message: unknown): void => {
      if ((message as { socket: unknown }).socket === client) seen.push('connect')
    }
    const onClose = (message: unknown): void => {
      if ((message as { socket: unknown }).socket === client) seen.push('close')
    }
    diagnostics.subscribe('wirekit:socket:connect', onConnect)
    diagnostics.subscribe('wirekit:socket:close', onClose)
    let client: AsyncSocket | undefined
    try {
      const server = resources.add(await AsyncServer.listen({ port: 0 }, () => {}), (s) => s.close())
      client = AsyncSocket.open({ host: '127.0.0.1', port: server.port })
      await client.ready
      client.destroy()
      assert.deepEqual(seen, ['connect', 'close'])
    } finally {
      diagnostics.unsubscribe('wirekit:socket:connect', onConnect)
      diagnostics.unsubscribe('wirekit:socket:close', onClose)
    }
  })
})

describe('read timeouts and cancellation', () => {
  test('a read with a timeout rejects with WK_READ_TIMEOUT, its tag and bytes done, and the socket stays open', async () => {
    const { client, peer } = await pairWithRaw(resources)
    peer.write('ab')
    await assert.rejects(client.read({ length: 10, timeout: 100, tag: 'slow' }), (error) => {
      assert.ok(isWirekitError(error, 'WK_READ_TIMEOUT'))
      assert.equal(error.tag, 'slow')
      assert.equal(error.bytesDone, 2)
      return true
    })
    peer.write('cd')
    assert.equal((await within(client.read({ length: 4 }), 2000, 'read')).toString(), 'abcd')
  })

  test('onReadTimeout can extend a read instead of failing it', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const calls: [unknown, number][] = []
    client.onReadTimeout = (tag, elapsed) => {
      calls.push([tag, elapsed])
      return 1000
    }
    const read = client.read({ length: 3, timeout: 80, tag: 't' })
    setTimeout(() => peer.write('xyz'), 200)
    assert.equal((await within(read, 5000, 'read')).toString(), 'xyz')
    assert.ok(calls.length >= 1, 'the timeout fired before the bytes came')
    assert.equal(calls[0]![0], 't')
    assert.ok(calls[0]![1] >= 60)
  })

  test('an aborted read rejects with WK_ABORTED and the next read gets the bytes', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const controller = new AbortController()
    const first = client.read({ length: 4, signal: controller.signal })
    const second = client.read({ length: 4 })
    controller.abort()
    await assert.rejects(first, (error) => isWirekitError(error, 'WK_ABORTED'))
    peer.write('data')
    assert.equal((await within(second, 2000, 'second')).toString(), 'data')
  })
})

describe('closing', () => {
  test('end() half-closes: the peer sees FIN and can still send to us', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const peerEnded = once(peer, 'end')
    peer.resume()
    await client.write('request')
    await client.end()
    await within(peerEnded, 2000, 'peer end')
    peer.end('response after our FIN')
    let text = ''
    for (let i = 0; i < 10 && !text.endsWith('FIN'); i++)
      text += (await within(client.read(), 2000, 'read')).toString()
    assert.equal(text, 'response after our FIN')
    await within(once(client, 'close'), 2000, 'close')
    assert.equal(client.state, 'closed')
  })

  test("the peer's FIN raises readClosed while our writes still go through", async () => {
    const { client, peer } = await pairWithRaw(resources)
    peer.end()
    await within(once(client, 'readClosed'), 2000, 'readClosed')
    assert.equal(client.readEnded, true)
    const got = new Promise<string>((resolve) =>
      peer.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    )
    await client.write('still writable')
    assert.equal(await within(got, 2000, 'peer data'), 'still writable')
  })

  test('reset() sends RST: the peer sees ECONNRESET', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const peerError = new Promise<Error>((resolve) => peer.on('error', resolve))
    peer.write('x')
    await client.read()
    client.reset()
    assert.equal(client.state, 'closed')
    const error = (await within(peerError, 2000, 'peer error')) as Error & { code?: string }
    assert.equal(error.code, 'ECONNRESET')
  })

  test('a reset by the peer fails pending reads with WK_CONNECTION_RESET and close carries it', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const read = client.read({ length: 100 })
    const closed = once(client, 'close')
    peer.resetAndDestroy()
    await assert.rejects(read, (error) => isWirekitError(error, 'WK_CONNECTION_RESET'))
    const [error] = (await within(closed, 2000, 'close')) as [unknown]
    assert.ok(isWirekitError(error, 'WK_CONNECTION_RESET'))
  })

  test('destroy(error) rejects every pending read and write with that error', async () => {
    const { client, peer } = await pairWithRaw(resources, {
      writeHighWaterMark: 1024,
      maxWriteQueue: 64 << 20,
    })
    peer.pause()
    const read = client.read({ until: '\n' })
    const writes = Array.from({ length: 200 }, () => client.write(Buffer.alloc(64 * 1024)))
    const waiting = writes.map(track)
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.ok(waiting.some((state) => !state.settled))
    const reason = new (await import('../../src/errors.ts')).ClosedError('WK_CLOSED', 'shutting down')
    const closed = once(client, 'close')
    client.destroy(reason)
    await assert.rejects(read, (error) => error === reason)
    const results = await Promise.allSettled(writes)
    const pendingOnes = results.filter((_, i) => !waiting[i]!.settled || results[i]!.status === 'rejected')
    assert.ok(pendingOnes.length > 0)
    for (const result of results) if (result.status === 'rejected') assert.equal(result.reason, reason)
    assert.equal(((await closed) as unknown[])[0], reason)
  })

  test('close() lets pending reads and writes finish, then closes', async () => {
    const { client, peer } = await pairWithRaw(resources)
    const read = client.read({ length: 5 })
    const write = client.write('bye')
    const closing = client.close()
    await assert.rejects(client.read(), (error) => isWirekitError(error, 'WK_CLOSED'))
    peer.write('hello')
    assert.equal((await read).toString(), 'hello')
    await write
    await within(closing, 2000, 'close()')
    assert.equal(client.state, 'closed')
  })
})
