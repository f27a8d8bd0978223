import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { TLSSocket } from 'node:tls'
import type { HttpError } from '../../src/errors.ts'
import { HttpSession } from '../../src/http/index.ts'
import { makeCerts, type TestCerts } from '../helpers/certs.ts'
import { startHttpsServer, type TestServer } from '../helpers/http-servers.ts'

describe('HttpSession mutual TLS', () => {
  let certs: TestCerts
  let server: TestServer

  before(async () => {
    certs = makeCerts()
    server = await startHttpsServer(
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate()
        res.end(`hello ${peer.subject?.CN}`)
      },
      certs.server,
      { clientCA: certs.ca },
    )
  })
  after(async () => {
    await server.close()
  })

  async function using<T>(session: HttpSession, run: (s: HttpSession) => Promise<T>): Promise<T> {
    try {
      return await run(session)
    } finally {
      await session.close()
    }
  }

  test('a client certificate signed by the CA the server asks for is presented and accepted', async () => {
    const options = { ca: certs.ca, cert: certs.client.cert, key: certs.client.key }
    await using(new HttpSession(options), async (api) => {
      const res = await api.get(server.url, { responseType: 'text' })
      assert.equal(res.status, 200)
      assert.equal(res.data, 'hello wirekit client')
    })
  })

  test('without a client certificate the server refuses the connection: WK_HTTP_NETWORK, no request served', async () => {
    const served = server.requests
    await using(new HttpSession({ ca: certs.ca, retry: false }), async (api) => {
      await assert.rejects(api.get(server.url), (error: HttpError) => {
        assert.equal(error.code, 'WK_HTTP_NETWORK')
        return true
      })
    })
    assert.equal(server.requests, served)
  })

  test('a client certificate from another issuer is refused the same way', async () => {
    const served = server.requests
    const options = {
      ca: certs.ca,
      cert: certs.selfSigned.cert,
      key: certs.selfSigned.key,
      retry: false as const,
    }
    await using(new HttpSession(options), async (api) => {
      await assert.rejects(api.get(server.url), { code: 'WK_HTTP_NETWORK' })
    })
    assert.equal(server.requests, served)
  })
})
