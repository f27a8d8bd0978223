// TLS on AsyncSocket and AsyncServer with real certificates made at test time: trust by default,
// a distinct code for each failure, pins, verify(), ALPN, mTLS, handshake timeout and startTLS.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import { isWirekitError, type WirekitError } from '../../src/errors.ts'
import { AsyncServer, AsyncSocket, type ListenOptions, type TlsOptions } from '../../src/socket/index.ts'
import { makeCerts, type TestCerts } from '../helpers/certs.ts'
import { Resources, rawServer, within } from './helpers.ts'

const resources = new Resources()
after(() => resources.closeAll())
let certs: TestCerts
before(() => {
  certs = makeCerts()
})

/** A TLS echo server (one line per connection); its client errors are collected. */
async function echoServer(tls: TlsOptions, extra: Partial<ListenOptions> = {}) {
  const clientErrors: WirekitError[] = []
  const server = resources.add(
    await AsyncServer.listen({ port: 0, tls, ...extra }, async (socket) => {
      await socket.write(await socket.read({ until: '\n' }))
    }),
    (s) => s.close(),
  )
  server.on('clientError', (error) => clientErrors.push(error))
  return { port: server.port, clientErrors }
}

async function echoOnce(socket: AsyncSocket, text: string): Promise<string> {
  await socket.write(`${text}\n`)
  return (await within(socket.read({ until: '\n' }), 5000, 'echo')).toString().trimEnd()
}

describe('TLS', () => {
  test('a client trusting the CA connects, checks the hostname and talks', async () => {
    const { port } = await echoServer({ key: certs.server.key, cert: certs.server.cert })
    const client = resources.socket(
      await AsyncSocket.connect({ host: 'localhost', port, tls: { ca: certs.ca }, family: 4 }),
    )
    assert.equal(client.isSecure, true)
    assert.equal(await echoOnce(client, 'over tls'), 'over tls')
  })

  test('a self-signed server certificate rejects with WK_TLS_UNTRUSTED', async () => {
    const { port } = await echoServer({ key: certs.selfSigned.key, cert: certs.selfSigned.cert })
    await assert.rejects(AsyncSocket.connect({ host: '127.0.0.1', port, tls: { ca: certs.ca } }), (error) =>
      isWirekitError(error, 'WK_TLS_UNTRUSTED'),
    )
  })

  test('an expired server certificate rejects with WK_TLS_UNTRUSTED and the reason', async () => {
    const { port } = await echoServer({ key: certs.expired.key, cert: certs.expired.cert })
    await assert.rejects(AsyncSocket.connect({ host: '127.0.0.1', port, tls: { ca: certs.ca } }), (error) => {
      assert.ok(isWirekitError(error, 'WK_TLS_UNTRUSTED'))
      assert.equal((error as WirekitError & { reason?: string }).reason, 'CERT_HAS_EXPIRED')
      return true
    })
  })

  test('a certificate for another host rejects with WK_TLS_HOSTNAME', async () => {
    const { port } = await echoServer({ key: certs.wrongHost.key, cert: certs.wrongHost.cert })
    await assert.rejects(AsyncSocket.connect({ host: '127.0.0.1', port, tls: { ca: certs.ca } }), (error) =>
      isWirekitError(error, 'WK_TLS_HOSTNAME'),
    )
  })

  test('a matching pin connects and a wrong pin rejects with WK_TLS_PIN_MISMATCH', async () => {
    const { port } = await echoServer({ key: certs.server.key, cert: certs.server.cert })
    const good = resources.socket(
      await AsyncSocket.connect({
        host: '127.0.0.1',
        port,
        tls: { ca: certs.ca, pins: [certs.pinOf(certs.server.cert)] },
      }),
    )
    assert.equal(await echoOnce(good, 'pinned'), 'pinned')
    // The CA's key is in the chain the server presents? Not here: the server sends its leaf only.
    await assert.rejects(
      AsyncSocket.connect({
        host: '127.0.0.1',
        port,
        tls: { ca: certs.ca, pins: [certs.pinOf(certs.selfSigned.cert)] },
      }),
      (error) => isWirekitError(error, 'WK_TLS_PIN_MISMATCH'),
    )
  })

  test('pins with rejectUnauthorized off trust a self-signed server by its key alone', async () => {
    const { port } = await echoServer({ key: certs.selfSigned.key, cert: certs.selfSigned.cert })
    const client = resources.socket(
      await AsyncSocket.connect({
        host: '127.0.0.1',
        port,
        tls: { rejectUnauthorized: false, pins: [certs.pinOf(certs.selfSigned.cert)] },
      }),
    )
    assert.equal(await echoOnce(client, 'self'), 'self')
  })

  test('verify() sees the peer and its verdict decides, sync or async; false rejects with WK_TLS_REJECTED', async () => {
    const { port } = await echoServer({ key: certs.server.key, cert: certs.server.cert })
    let seen: { authorized: boolean; pin: string | undefined } | undefined
    const ok = resources.socket(
      await AsyncSocket.connect({
        host: '127.0.0.1',
        port,
        tls: {
          ca: certs.ca,
          verify: async (peer) => {
            seen = { authorized: peer.authorized, pin: peer.pin }
            return true
          },
        },
      }),
    )
    assert.equal(await echoOnce(ok, 'verified'), 'verified')
    assert.deepEqual(seen, { authorized: true, pin: certs.pinOf(certs.server.cert) })
    await assert.rejects(
      AsyncSocket.connect({ host: '127.0.0.1', port, tls: { ca: certs.ca, verify: () => false } }),
      (error) => isWirekitError(error, 'WK_TLS_REJECTED'),
    )
  })

  test('ALPN negotiates the first protocol both sides support', async () => {
    let serverSaw: string | false = false
    const server = resources.add(
      await AsyncServer.listen(
        { port: 0, tls: { key: certs.server.key, cert: certs.server.cert, alpn: ['wk/2', 'wk/1'] } },
        (socket) => {
          serverSaw = socket.alpnProtocol
        },
      ),
      (s) => s.close(),
    )
    const client = resources.socket(
      await AsyncSocket.connect({
        host: '127.0.0.1',
        port: server.port,
        tls: { ca: certs.ca, alpn: ['wk/1', 'wk/0'] },
      }),
    )
    assert.equal(client.alpnProtocol, 'wk/1')
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(serverSaw, 'wk/1')
  })

  test('mTLS: a client certificate from the CA is accepted; none or an untrusted one is refused', async () => {
    const { port, clientErrors } = await echoServer({
      key: certs.server.key,
      cert: certs.server.cert,
      ca: certs.ca,
      requestCert: true,
    })
    const good = resources.socket(
      await AsyncSocket.connect({
        host: '127.0.0.1',
        port,
        tls: { ca: certs.ca, key: certs.client.key, cert: certs.client.cert },
      }),
    )
    assert.equal(await echoOnce(good, 'mutual'), 'mutual')
    for (const identity of [{}, { key: certs.selfSigned.key, cert: certs.selfSigned.cert }]) {
      const refused = AsyncSocket.open({ host: '127.0.0.1', port, tls: { ca: certs.ca, ...identity } })
      resources.socket(refused)
      // TLS 1.3 finishes the client's side before the server judges the certificate: the refusal
      // shows as the connection closing without an answer.
      const outcome = await within(
        refused.ready
          .then(() => refused.write('hi\n').then(() => refused.read({ until: '\n' })))
          .then(
            () => 'answered',
            (error: WirekitError) => error.code,
          ),
        5000,
        'refused client',
      )
      assert.notEqual(outcome, 'answered')
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
    const codes = clientErrors.map((error) => error.code).sort()
    assert.deepEqual(codes, ['WK_TLS_REJECTED', 'WK_TLS_UNTRUSTED'])
  })

  test('a server that never answers the handshake fails it with WK_TLS_HANDSHAKE_TIMEOUT', async () => {
    const port = await rawServer(resources, () => {})
    await assert.rejects(
      within(
        AsyncSocket.connect({ host: '127.0.0.1', port, tls: { ca: certs.ca, handshakeTimeout: 200 } }),
        5000,
        'connect',
      ),
      (error) => isWirekitError(error, 'WK_TLS_HANDSHAKE_TIMEOUT'),
    )
  })
})

describe('startTLS', () => {
  test('both sides upgrade mid-stream after a plaintext exchange, and later reads and writes are encrypted', async () => {
    const serverDone = Promise.withResolvers<string>()
    const server = resources.add(
      await AsyncServer.listen({ port: 0 }, async (socket) => {
        try {
          const command = await socket.read({ until: '\r\n' })
          // Queued before startTLS: goes out in plaintext, then the upgrade runs.
          socket.write('OK go ahead\r\n')
          await socket.startTLS({ key: certs.server.key, cert: certs.server.cert })
          const secret = await socket.read({ until: '\n' })
          await socket.write(`secret received: ${secret}`)
          serverDone.resolve(`${command.toString().trim()}|${socket.isSecure}`)
        } catch (error) {
          serverDone.reject(error)
        }
      }),
      (s) => s.close(),
    )
    const client = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port: server.port }))
    await client.write('STARTTLS\r\n')
    assert.equal((await within(client.read({ until: '\r\n' }), 3000, 'ok')).toString(), 'OK go ahead\r\n')
    const secured = Promise.withResolvers<void>()
    client.once('secure', () => secured.resolve())
    await within(client.startTLS({ ca: certs.ca, servername: 'localhost' }), 5000, 'client startTLS')
    await secured.promise
    assert.equal(client.isSecure, true)
    await client.write('hunter2\n')
    assert.equal(
      (await within(client.read({ until: '\n' }), 3000, 'answer')).toString(),
      'secret received: hunter2\n',
    )
    assert.equal(await within(serverDone.promise, 3000, 'server'), 'STARTTLS|true')
  })

  test('a client that sends its handshake right behind the command (pipelined) is still understood', async () => {
    const server = resources.add(
      await AsyncServer.listen({ port: 0 }, async (socket) => {
        await socket.read({ until: '\r\n' })
        await socket.startTLS({ key: certs.server.key, cert: certs.server.cert })
        await socket.write(await socket.read({ until: '\n' }))
      }),
      (s) => s.close(),
    )
    const client = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port: server.port }))
    // No wait for an answer: the ClientHello follows the command at once, often in the same segment.
    client.write('STARTTLS\r\n')
    await within(client.startTLS({ ca: certs.ca }), 5000, 'client startTLS')
    assert.equal(await echoOnce(client, 'pipelined'), 'pipelined')
  })

  test('startTLS against an untrusted server rejects with WK_TLS_UNTRUSTED and closes the socket', async () => {
    const server = resources.add(
      await AsyncServer.listen({ port: 0 }, async (socket) => {
        await socket.read({ until: '\r\n' })
        await socket.startTLS({ key: certs.selfSigned.key, cert: certs.selfSigned.cert }).catch(() => {})
      }),
      (s) => s.close(),
    )
    const client = resources.socket(await AsyncSocket.connect({ host: '127.0.0.1', port: server.port }))
    await client.write('STARTTLS\r\n')
    const closed = once(client, 'close')
    await assert.rejects(client.startTLS({ ca: certs.ca }), (error) =>
      isWirekitError(error, 'WK_TLS_UNTRUSTED'),
    )
    await within(closed, 2000, 'close')
    assert.equal(client.state, 'closed')
  })
})
