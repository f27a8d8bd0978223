// reset() on TLS sockets: the RST goes out on the TCP socket under the TLS layer, so the peer sees
// ECONNRESET (not a clean close) whether TLS was on from the start, on either side, or upgraded.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import type net from 'node:net'
import { after, before, describe, test } from 'node:test'
import tls from 'node:tls'
import { AsyncServer, AsyncSocket } from '../../src/socket/index.ts'
import { makeCerts, type TestCerts } from '../helpers/certs.ts'
import { Resources, within } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())
let certs: TestCerts
before(() => {
  certs = makeCerts()
})

/** Resolves with the code of the first error `socket` emits, or 'closed cleanly' if it closes without one. */
function outcome(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message))
    socket.once('close', () => resolve('closed cleanly'))
  })
}

describe('reset() on TLS', () => {
  test('a TLS client that resets sends RST: the server sees ECONNRESET', async () => {
    const seen = Promise.withResolvers<string>()
    const server = tls.createServer({ key: certs.server.key, cert: certs.server.cert }, (socket) => {
      outcome(socket).then(seen.resolve)
      socket.write('hello\n')
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    resources.add(server, (s) => new Promise((resolve) => s.close(resolve)))
    const { port } = server.address() as net.AddressInfo
    const client = await AsyncSocket.connect({
      host: '127.0.0.1',
      port,
      tls: { ca: certs.ca, servername: 'localhost' },
    })
    resources.socket(client)
    assert.equal((await within(client.read({ until: '\n' }), 3000, 'hello')).toString(), 'hello\n')
    client.reset()
    assert.equal(client.state, 'closed')
    assert.equal(await within(seen.promise, 3000, 'server outcome'), 'ECONNRESET')
  })

  test('a socket accepted by a TLS AsyncServer that resets sends RST: the client sees ECONNRESET', async () => {
    const server = resources.add(
      await AsyncServer.listen(
        { port: 0, tls: { key: certs.server.key, cert: certs.server.cert } },
        async (socket) => {
          await socket.read({ until: '\n' })
          socket.reset()
        },
      ),
      (s) => s.close(),
    )
    const client = tls.connect({
      host: '127.0.0.1',
      port: server.port,
      ca: certs.ca,
      servername: 'localhost',
    })
    resources.add(client, (c) => c.destroy())
    await within(once(client, 'secureConnect'), 3000, 'handshake')
    const seen = outcome(client)
    client.write('bye\n')
    assert.equal(await within(seen, 3000, 'client outcome'), 'ECONNRESET')
  })

  test('after startTLS, reset() still sends RST on the TCP socket', async () => {
    const seen = Promise.withResolvers<string>()
    const server = resources.add(
      await AsyncServer.listen({ port: 0 }, async (socket) => {
        await socket.read({ until: '\n' })
        await socket.startTLS({ key: certs.server.key, cert: certs.server.cert })
        await socket.read({ until: '\n' })
        socket.reset()
      }),
      (s) => s.close(),
    )
    const client = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port: server.port }))
    client.on('close', (error) => seen.resolve(error?.code ?? 'closed cleanly'))
    await client.write('STARTTLS\n')
    await within(client.startTLS({ ca: certs.ca, servername: 'localhost' }), 5000, 'startTLS')
    await client.write('bye\n')
    await client.read().catch(() => {})
    assert.equal(await within(seen.promise, 3000, 'client close'), 'WK_CONNECTION_RESET')
  })
})
