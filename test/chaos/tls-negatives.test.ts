// TLS negatives end to end on MessageServer / MessageClient with real certificates: every untrustworthy
// server is refused with its own code, a plaintext client on the TLS port and a TLS client on the plaintext
// port are refused, and the servers keep serving good clients, holding nothing of the refused ones.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { MessageClient, type MessageClientOptions, MessageServer } from '../../src/messaging/index.ts'
import { type KeyPair, makeCerts, type TestCerts } from '../helpers/certs.ts'
import { waitFor } from './stream-harness.ts'

type Listening = { server: MessageServer; port: number }

describe('TLS negatives on MessageServer and MessageClient', () => {
  let certs: TestCerts
  let good: Listening
  let selfSigned: Listening
  let expired: Listening
  let wrongHost: Listening
  let plain: Listening
  const servers: MessageServer[] = []

  async function listen(pair?: KeyPair): Promise<Listening> {
    const server = new MessageServer({ authTimeout: 2000 })
    servers.push(server)
    server.handle('echo', (data) => data)
    const address = (await server.listen({ port: 0, host: '127.0.0.1', tls: pair })) as { port: number }
    return { server, port: address.port }
  }

  before(async () => {
    certs = makeCerts()
    good = await listen(certs.server)
    selfSigned = await listen(certs.selfSigned)
    expired = await listen(certs.expired)
    wrongHost = await listen(certs.wrongHost)
    plain = await listen()
  })

  after(async () => {
    for (const server of servers) await server.close()
  })

  /** Connects once (no retries) and expects a refusal with `code`; the server is then left with nothing. */
  async function refused(
    url: string,
    options: MessageClientOptions,
    code: string,
    target: Listening,
  ): Promise<void> {
    let error: unknown
    try {
      const client = await MessageClient.connect(url, { reconnect: false, connectTimeout: 5000, ...options })
      await client.close()
    } catch (e) {
      error = e
    }
    assert.ok(isWirekitError(error), `expected a WirekitError, got ${String(error)}`)
    assert.equal(error.code, code, error.message)
    await waitFor(() => target.server.connectionCount === 0, 5000, 'the refused connection to be gone')
    assert.equal(target.server.peers.size, 0)
  }

  /** A client that trusts the test CA connects and is served. */
  async function served(
    url: string,
    options: MessageClientOptions = { tls: { ca: certs.ca } },
  ): Promise<void> {
    const client = await MessageClient.connect(url, { reconnect: false, ...options })
    try {
      assert.deepEqual(await client.request('echo', { ok: true }), { ok: true })
    } finally {
      await client.close()
    }
  }

  test('a self-signed server certificate is refused with WK_TLS_UNTRUSTED', async () => {
    await refused(
      `tls://127.0.0.1:${selfSigned.port}`,
      { tls: { ca: certs.ca } },
      ErrorCodes.TLS_UNTRUSTED,
      selfSigned,
    )
  })

  test('an expired server certificate is refused with WK_TLS_UNTRUSTED', async () => {
    await refused(
      `tls://127.0.0.1:${expired.port}`,
      { tls: { ca: certs.ca } },
      ErrorCodes.TLS_UNTRUSTED,
      expired,
    )
  })

  test('a certificate for another host is refused with WK_TLS_HOSTNAME', async () => {
    await refused(
      `tls://127.0.0.1:${wrongHost.port}`,
      { tls: { ca: certs.ca } },
      ErrorCodes.TLS_HOSTNAME,
      wrongHost,
    )
  })

  test('a valid certificate whose key matches no pin is refused with WK_TLS_PIN_MISMATCH', async () => {
    const pins = [certs.pinOf(certs.selfSigned.cert)]
    await refused(
      `tls://127.0.0.1:${good.port}`,
      { tls: { ca: certs.ca, pins } },
      ErrorCodes.TLS_PIN_MISMATCH,
      good,
    )
  })

  test('a CA the client does not trust is refused with WK_TLS_UNTRUSTED', async () => {
    await refused(`tls://127.0.0.1:${good.port}`, {}, ErrorCodes.TLS_UNTRUSTED, good)
  })

  test('a plaintext client on the TLS port is refused with WK_CLOSED during the handshake', async () => {
    await refused(`tcp://127.0.0.1:${good.port}`, {}, ErrorCodes.CLOSED, good)
  })

  test('a TLS client on the plaintext port is refused with WK_TLS_FAILED', async () => {
    await refused(`tls://127.0.0.1:${plain.port}`, { tls: { ca: certs.ca } }, ErrorCodes.TLS_FAILED, plain)
  })

  test('the right pin is accepted, and every server still serves good clients', async () => {
    await served(`tls://127.0.0.1:${good.port}`, {
      tls: { ca: certs.ca, pins: [certs.pinOf(certs.server.cert)] },
    })
    await served(`tls://127.0.0.1:${good.port}`)
    await served(`tcp://127.0.0.1:${plain.port}`, {})
    // The refused servers' certificates are the problem, not the servers: trusting them explicitly works.
    await served(`tls://127.0.0.1:${selfSigned.port}`, { tls: { ca: certs.selfSigned.cert } })
    await served(`tls://127.0.0.1:${wrongHost.port}`, { tls: { ca: certs.ca, servername: 'wrong.example' } })
  })

  test('a burst of 50 bad TLS clients at once leaves the server serving', async () => {
    const attempts = Array.from({ length: 50 }, (_, i) =>
      MessageClient.connect(i % 2 === 0 ? `tcp://127.0.0.1:${good.port}` : `tls://127.0.0.1:${good.port}`, {
        reconnect: false,
        connectTimeout: 5000,
        tls: { ca: certs.ca, pins: [certs.pinOf(certs.wrongHost.cert)] },
      }).then(
        async (client) => {
          await client.close()
          return 'connected'
        },
        (error) => (isWirekitError(error) ? error.code : String(error)),
      ),
    )
    const codes = await Promise.all(attempts)
    assert.deepEqual(new Set(codes), new Set([ErrorCodes.CLOSED, ErrorCodes.TLS_PIN_MISMATCH]))
    await served(`tls://127.0.0.1:${good.port}`)
    await waitFor(() => good.server.connectionCount === 0, 5000, 'connections to close')
  })
})
