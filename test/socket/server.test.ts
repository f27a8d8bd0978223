// AsyncServer (address, maxConnections, drain on close, failing handlers) and frames over a socket.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, describe, test } from 'node:test'
import { isWirekitError, type WirekitError } from '../../src/errors.ts'
import { lengthField } from '../../src/framing/index.ts'
import { AsyncServer, AsyncSocket } from '../../src/socket/index.ts'
import { Resources, within } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())

describe('AsyncServer', () => {
  test('listen({ port: 0 }) binds an ephemeral port on loopback and reports the address', async () => {
    const server = resources.add(await AsyncServer.listen({ port: 0 }, () => {}), (s) => s.close())
    const address = server.address as { address: string; port: number; family: string }
    assert.equal(address.address, '127.0.0.1')
    assert.ok(address.port > 0)
    assert.equal(server.port, address.port)
  })

  test('listening on a port in use rejects with WK_SOCKET_FAILED', async () => {
    const first = resources.add(await AsyncServer.listen({ port: 0 }, () => {}), (s) => s.close())
    await assert.rejects(
      AsyncServer.listen({ port: first.port }, () => {}),
      (error) => isWirekitError(error, 'WK_SOCKET_FAILED'),
    )
  })

  test('connections beyond maxConnections are closed on accept and reported as WK_MAX_CONNECTIONS', async () => {
    const server = resources.add(
      await AsyncServer.listen({ port: 0, maxConnections: 1 }, (socket) => socket.write('welcome\n')),
      (s) => s.close(),
    )
    const refusals: WirekitError[] = []
    server.on('refused', (error) => refusals.push(error))
    const first = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port: server.port }))
    assert.equal((await within(first.read({ until: '\n' }), 2000, 'welcome')).toString(), 'welcome\n')
    const second = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port: server.port }))
    await assert.rejects(
      within(second.read({ until: '\n' }), 2000, 'second'),
      (error) => isWirekitError(error, 'WK_CLOSED') || isWirekitError(error, 'WK_CONNECTION_RESET'),
    )
    assert.equal(refusals.length, 1)
    assert.ok(isWirekitError(refusals[0], 'WK_MAX_CONNECTIONS'))
  })

  test('close({ drain }) stops accepting, lets connections finish within drain, then destroys the rest', async () => {
    const server = await AsyncServer.listen({ port: 0 }, async (socket) => {
      const word = await socket.read({ until: '\n' })
      await socket.write(word)
      await socket.end()
    })
    const port = server.port
    const quick = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port }))
    const idle = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port: server.port }))
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(server.connections, 2)
    const closing = server.close({ drain: 500 })
    await quick.write('done\n')
    assert.equal((await within(quick.read({ until: '\n' }), 2000, 'quick')).toString(), 'done\n')
    const started = performance.now()
    await within(closing, 5000, 'close')
    assert.ok(performance.now() - started < 2000)
    assert.equal(server.listening, false)
    await within(once(idle, 'readClosed'), 2000, 'idle sees FIN')
    await assert.rejects(AsyncSocket.connect({ host: '127.0.0.1', port }), (error) =>
      isWirekitError(error, 'WK_CONNECT_REFUSED'),
    )
  })

  test('a handler that throws closes its connection and is reported as clientError', async () => {
    const server = resources.add(
      await AsyncServer.listen({ port: 0 }, () => {
        throw new Error('handler bug')
      }),
      (s) => s.close(),
    )
    const reported = once(server, 'clientError')
    const client = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port: server.port }))
    const [error] = (await within(reported, 2000, 'clientError')) as [Error]
    assert.equal(error.message, 'handler bug')
    await within(once(client, 'readClosed'), 2000, 'client sees FIN')
  })
})

describe('frames over AsyncSocket', () => {
  const codec = lengthField({ lengthFieldLength: 4, maxFrameLength: 1 << 16 })

  test('frames() yields every frame written with writeFrame, whatever the split, then ends at FIN', async () => {
    const server = resources.add(
      await AsyncServer.listen({ port: 0 }, async (socket) => {
        // Half the frames one by one, the rest coalesced into one write: the reader must not care.
        for (let i = 0; i < 50; i++) await socket.writeFrame(codec, Buffer.from(`frame ${i}`))
        const rest = Array.from({ length: 50 }, (_, i) => codec.encode(Buffer.from(`frame ${i + 50}`)))
        await socket.write(Buffer.concat(rest))
        await socket.end()
      }),
      (s) => s.close(),
    )
    const client = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port: server.port }))
    const got: string[] = []
    for await (const frame of client.frames(codec)) got.push(frame.toString())
    assert.deepEqual(
      got,
      Array.from({ length: 100 }, (_, i) => `frame ${i}`),
    )
  })

  test('an oversize length field ends frames() with a protocol error instead of buffering', async () => {
    const server = resources.add(
      await AsyncServer.listen({ port: 0 }, async (socket) => {
        await socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]))
      }),
      (s) => s.close(),
    )
    const client = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port: server.port }))
    await assert.rejects(
      (async () => {
        for await (const _ of client.frames(codec)) assert.fail('no frame expected')
      })(),
      (error) => isWirekitError(error, 'WK_FRAME_TOO_LARGE'),
    )
  })
})
