import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { HttpError } from '../../src/errors.ts'
import { type HttpResponse, HttpSession } from '../../src/http/index.ts'
import { makeCerts, type TestCerts } from '../helpers/certs.ts'
import {
  startHttpServer,
  startHttpsServer,
  startProxy,
  type TestProxy,
  type TestServer,
} from '../helpers/http-servers.ts'

describe('HttpSession through an authenticating proxy', () => {
  let certs: TestCerts
  let secure: TestServer
  let plain: TestServer
  let proxy: TestProxy
  let proxyURL: (user: string, pass: string) => string

  before(async () => {
    certs = makeCerts()
    secure = await startHttpsServer((req, res) => res.end(`secure ${req.url}`), certs.server)
    plain = await startHttpServer((req, res) => res.end(`plain ${req.url}`))
    // A password with characters that must be percent-encoded in the URL.
    proxy = await startProxy({ auth: { user: 'ada', pass: 'p@ss word' } })
    proxyURL = (user, pass) => `http://${user}:${pass}@127.0.0.1:${proxy.port}`
  })
  after(async () => {
    await Promise.all([secure.close(), plain.close(), proxy.close()])
  })

  async function using<T>(session: HttpSession, run: (s: HttpSession) => Promise<T>): Promise<T> {
    try {
      return await run(session)
    } finally {
      await session.close()
    }
  }

  test('credentials in the proxy URL are sent as Proxy-Authorization, for https and plain http', async () => {
    const session = new HttpSession({ proxy: proxyURL('ada', 'p%40ss%20word'), ca: certs.ca })
    await using(session, async (api) => {
      const tls = await api.get(`${secure.url}a`, { responseType: 'text' })
      assert.equal(tls.data, 'secure /a')
      const http = await api.get(`${plain.url}b`, { responseType: 'text' })
      assert.equal(http.data, 'plain /b')
    })
    assert.ok(proxy.tunnels.includes(`localhost:${secure.port}`), 'the https request went through the proxy')
    assert.ok(proxy.tunnels.includes(`127.0.0.1:${plain.port}`), 'the http request went through the proxy')
  })

  test('a proxy answering 407 rejects with WK_HTTP_STATUS and a 407 response, without retrying', async () => {
    for (const url of [`http://127.0.0.1:${proxy.port}`, proxyURL('ada', 'wrong')]) {
      const refused = proxy.refused
      // Default retry policy: a 407 must not be retried like a network failure.
      await using(new HttpSession({ proxy: url, ca: certs.ca }), async (api) => {
        await assert.rejects(api.get(`${secure.url}c`), (error: HttpError) => {
          assert.equal(error.code, 'WK_HTTP_STATUS')
          assert.equal((error.response as HttpResponse).status, 407)
          assert.match(error.message, /Proxy authentication required \(407\)/)
          return true
        })
      })
      assert.equal(proxy.refused, refused + 1, `${url}: one refused attempt`)
    }
  })
})
