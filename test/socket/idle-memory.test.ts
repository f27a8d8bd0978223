// What keeps an idle connection small (issue 3): shared stream listeners instead of closures per
// socket, `ready` made only when asked for, linked read/write queues made when first needed, and one
// `onread` callback shared by every accepted socket, which must still hand each socket its own bytes.
// (A consumer taking the bytes instead of a pending read: consume.test.ts.)
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { after, describe, test } from 'node:test'
import { isWirekitError } from '../../src/errors.ts'
import { Fifo } from '../../src/socket/fifo.ts'
import { AsyncServer, AsyncSocket } from '../../src/socket/index.ts'
import { acceptedWithRaw, Resources, rawServer, within, wrappedWithRaw } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())

type Item = { id: number; next: Item | undefined }
const item = (id: number): Item => ({ id, next: undefined })
const ids = (fifo: Fifo<Item>): number[] => fifo.drain().map((entry) => entry.id)

describe('Fifo', () => {
  test('items come out in the order they went in, and size follows', () => {
    const fifo = new Fifo<Item>()
    for (let id = 1; id <= 3; id++) fifo.push(item(id))
    assert.equal(fifo.size, 3)
    assert.equal(fifo.shift()?.id, 1)
    assert.equal(fifo.first?.id, 2)
    assert.deepEqual(ids(fifo), [2, 3])
    assert.equal(fifo.size, 0)
    assert.equal(fifo.first, undefined)
    assert.equal(fifo.shift(), undefined)
  })

  test('remove() takes an item from the middle or the tail and reports its position', () => {
    const fifo = new Fifo<Item>()
    const entries = [1, 2, 3, 4].map(item)
    for (const entry of entries) fifo.push(entry)
    assert.equal(fifo.remove(entries[1]!), 1)
    assert.equal(fifo.remove(entries[3]!), 2)
    assert.equal(fifo.remove(entries[3]!), -1)
    // The tail moved back: a new item goes after 3, not after the removed 4.
    fifo.push(item(5))
    assert.deepEqual(ids(fifo), [1, 3, 5])
  })

  test('remove() of the only item empties the queue', () => {
    const fifo = new Fifo<Item>()
    const only = item(1)
    fifo.push(only)
    assert.equal(fifo.remove(only), 0)
    assert.equal(fifo.size, 0)
    fifo.push(item(2))
    assert.deepEqual(ids(fifo), [2])
  })
})

/** Two plain sockets of ours, connected to a raw server, each wrapped in an AsyncSocket. */
async function twoWrapped(): Promise<net.Socket[]> {
  const port = await rawServer(resources, () => {})
  const streams: net.Socket[] = []
  for (let i = 0; i < 2; i++) {
    const stream = resources.add(net.connect({ host: '127.0.0.1', port }), (s) => s.destroy())
    await once(stream, 'connect')
    resources.socket(AsyncSocket.wrap(stream))
    streams.push(stream)
  }
  return streams
}

describe('AsyncSocket idle footprint', () => {
  test('two sockets share the very same stream listeners: none is a closure of its own', async () => {
    const [a, b] = await twoWrapped()
    for (const event of ['data', 'end', 'close', 'error', 'drain']) {
      const mine = a!.listeners(event)
      assert.ok(mine.length >= 1, `a '${event}' listener`)
      assert.deepEqual(b!.listeners(event), mine, `the same '${event}' listener`)
    }
  })

  test('the shared listeners still reach their own socket: FIN on one ends only that one', async () => {
    const first = await acceptedWithRaw(resources)
    const second = await acceptedWithRaw(resources)
    const closed = once(first.client, 'readClosed')
    first.peer.end()
    await within(closed, 5000, 'readClosed')
    assert.equal(first.client.readEnded, true)
    assert.equal(second.client.readEnded, false)
    second.peer.write('still here')
    const data = await within(second.client.read(), 5000, 'read')
    assert.equal(data.toString(), 'still here')
  })

  test('ready asked for only after the socket became usable resolves', async () => {
    const { client, peer } = await acceptedWithRaw(resources)
    assert.equal(client.state, 'connected')
    await within(client.ready, 5000, 'ready')
    assert.equal(client.ready, client.ready, 'one promise, kept once made')
    peer.write('x')
    assert.equal((await within(client.read(), 5000, 'read')).toString(), 'x')
  })

  test('ready asked for only after a connect failed rejects with that failure', async () => {
    // A port that was just free: nothing listens there, so the connect is refused.
    const listener = net.createServer()
    listener.listen(0, '127.0.0.1')
    await once(listener, 'listening')
    const closedPort = (listener.address() as net.AddressInfo).port
    await new Promise((resolve) => listener.close(resolve))
    const socket = resources.socket(AsyncSocket.open({ host: '127.0.0.1', port: closedPort }))
    await within(once(socket, 'close'), 5000, 'close')
    const error = await socket.ready.then(
      () => assert.fail('ready resolved'),
      (failure: unknown) => failure,
    )
    assert.ok(isWirekitError(error))
    assert.equal(error.code, 'WK_CONNECT_REFUSED')
  })

  test('a socket destroyed before anyone asked for ready has a rejected ready', async () => {
    const port = await rawServer(resources, () => {})
    const socket = AsyncSocket.open({ host: '127.0.0.1', port })
    socket.destroy()
    await assert.rejects(within(socket.ready, 5000, 'ready'), (error: unknown) => isWirekitError(error))
  })
})

describe('the shared onread callback of accepted sockets', () => {
  test('many accepted sockets reading at once each get exactly their own bytes', async () => {
    const CLIENTS = 12
    const SIZE = 96 * 1024 // past the size that gets a destination of its own
    const received = new Map<number, Buffer>()
    const server = resources.add(
      await AsyncServer.listen({ port: 0 }, async (socket) => {
        const header = await socket.read({ length: 1 })
        const body = await socket.read({ length: SIZE })
        received.set(header[0]!, body)
        await socket.write(Buffer.from([header[0]!]))
      }),
      (s) => s.close(),
    )
    const done = Array.from({ length: CLIENTS }, async (_, id) => {
      const client = resources.add(net.connect({ host: '127.0.0.1', port: server.port }), (s) => s.destroy())
      client.on('error', () => {})
      await once(client, 'connect')
      const body = Buffer.alloc(SIZE, id + 1)
      // Split in uneven pieces so reads of different sockets interleave.
      client.write(Buffer.from([id]))
      for (let at = 0; at < SIZE; at += 7001) client.write(body.subarray(at, Math.min(SIZE, at + 7001)))
      const [ack] = (await once(client, 'data')) as [Buffer]
      assert.equal(ack[0], id)
    })
    await within(Promise.all(done), 20_000, 'all clients')
    assert.equal(received.size, CLIENTS)
    for (const [id, body] of received) {
      assert.equal(body.length, SIZE)
      assert.ok(
        body.every((byte) => byte === id + 1),
        `client ${id} got only its own bytes`,
      )
    }
  })
})

describe("net's own 'end' listener", () => {
  test('a wrapped stream keeps a single end listener, and a socket that is not half-open still refuses writes after FIN', async () => {
    const port = await rawServer(resources, (socket) => socket.end())
    const stream = resources.add(net.connect({ host: '127.0.0.1', port }), (s) => s.destroy())
    stream.on('error', () => {})
    await once(stream, 'connect')
    assert.equal(stream.allowHalfOpen, false)
    const socket = resources.socket(AsyncSocket.wrap(stream))
    assert.equal(stream.listenerCount('end'), 1)
    await within(once(socket, 'readClosed'), 5000, 'readClosed')
    // net's listener (run by ours) makes a write after the peer's FIN fail as EPIPE, as it always has
    // (without it the stream would end itself and the write fail as WK_CLOSED instead).
    await assert.rejects(
      within(socket.write('too late'), 5000, 'write'),
      (error: unknown) => isWirekitError(error) && error.code === 'WK_CONNECTION_RESET',
    )
  })

  test('a half-open wrapped socket still writes after the FIN', async () => {
    const { client, peer } = await wrappedWithRaw(resources)
    const got = Promise.withResolvers<string>()
    peer.on('data', (data: Buffer) => got.resolve(data.toString()))
    peer.end()
    await within(once(client, 'readClosed'), 5000, 'readClosed')
    await client.write('after FIN')
    assert.equal(await within(got.promise, 5000, 'data'), 'after FIN')
  })
})
