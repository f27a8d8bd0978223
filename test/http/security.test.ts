import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { cacheStores } from 'undici'
import { HttpSession } from '../../src/http/index.ts'
import { makeCerts, type TestCerts } from '../helpers/certs.ts'
import {
  startHttpServer,
  startHttpsServer,
  startProxy,
  type TestProxy,
  type TestServer,
} from '../helpers/http-servers.ts'

const TEXT = { responseType: 'text' } as const

describe('HttpSession security policy', () => {
  let certs: TestCerts
  let secure: TestServer
  let plain: TestServer
  let proxy: TestProxy

  before(async () => {
    certs = makeCerts()
    secure = await startHttpsServer((req, res) => res.end(`secure ${req.url}`), certs.server)
    plain = await startHttpServer((req, res) => {
      if (req.url === '/to-insecure')
        return res.writeHead(302, { location: 'http://wirekit-test.invalid/x' }).end()
      res.end(`plain ${req.url}`)
    })
    proxy = await startProxy()
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

  test('a matching pin (leaf or CA, global or per host) lets the request through', async () => {
    const leaf = certs.pinOf(certs.server.cert)
    const ca = certs.pinOf(certs.ca)
    const other = certs.pinOf(certs.selfSigned.cert)
    const cases: Array<string[] | Record<string, string[]>> = [
      [leaf],
      [other, ca],
      { localhost: [leaf] },
      { 'x.example': [other] },
    ]
    for (const pins of cases) {
      await using(new HttpSession({ ca: certs.ca, security: { pins } }), async (s) => {
        assert.equal((await s.get(`${secure.url}p`, TEXT)).data, 'secure /p')
      })
    }
  })

  test('per-host pins apply to their host only: a mismatch for that host is refused', async () => {
    const other = certs.pinOf(certs.selfSigned.cert)
    await using(new HttpSession({ ca: certs.ca, security: { pins: { localhost: [other] } } }), async (s) => {
      await assert.rejects(s.get(secure.url), { code: 'WK_HTTP_PIN_MISMATCH' })
    })
  })

  test('malformed pins throw at construction', () => {
    assert.throws(() => new HttpSession({ security: { pins: ['md5/abc'] } }), { code: 'WK_INVALID_ARGUMENT' })
    assert.throws(() => new HttpSession({ security: { pins: { localhost: [] } } }), {
      code: 'WK_INVALID_ARGUMENT',
    })
  })

  test('without the custom CA the server is untrusted; allowInvalidCertificates accepts self-signed and expired', async () => {
    await using(new HttpSession({ retry: false }), async (s) => {
      await assert.rejects(s.get(secure.url), { code: 'WK_HTTP_TLS_UNTRUSTED' })
    })
    const selfSigned = await startHttpsServer((_q, r) => r.end('self'), certs.selfSigned)
    const expired = await startHttpsServer((_q, r) => r.end('expired'), certs.expired)
    try {
      await using(new HttpSession({ security: { allowInvalidCertificates: true } }), async (s) => {
        assert.equal((await s.get(selfSigned.url, TEXT)).data, 'self')
        assert.equal((await s.get(expired.url, TEXT)).data, 'expired')
      })
    } finally {
      await Promise.all([selfSigned.close(), expired.close()])
    }
  })

  test('pins still apply when invalid certificates are allowed', async () => {
    const selfSigned = await startHttpsServer((_q, r) => r.end('self'), certs.selfSigned)
    try {
      const security = { allowInvalidCertificates: true, pins: [certs.pinOf(certs.server.cert)] }
      await using(new HttpSession({ security }), async (s) => {
        await assert.rejects(s.get(selfSigned.url), { code: 'WK_HTTP_PIN_MISMATCH' })
      })
    } finally {
      await selfSigned.close()
    }
  })

  test('validatesDomainName: false accepts a CA-signed certificate for another host', async () => {
    const wrong = await startHttpsServer((_q, r) => r.end('wrong'), certs.wrongHost)
    try {
      await using(new HttpSession({ ca: certs.ca, retry: false }), async (s) => {
        await assert.rejects(s.get(wrong.url), { code: 'WK_HTTP_TLS_UNTRUSTED' })
      })
      await using(new HttpSession({ ca: certs.ca, security: { validatesDomainName: false } }), async (s) => {
        assert.equal((await s.get(wrong.url, TEXT)).data, 'wrong')
      })
    } finally {
      await wrong.close()
    }
  })

  test('loopback plain http is allowed by default and refused when allowInsecureLoopback is false', async () => {
    await using(new HttpSession(), async (s) => {
      assert.equal((await s.get(`${plain.url}a`, TEXT)).data, 'plain /a')
      assert.equal((await s.get(`http://localhost:${plain.port}/b`, TEXT)).data, 'plain /b')
    })
    await using(new HttpSession({ security: { allowInsecureLoopback: false } }), async (s) => {
      await assert.rejects(s.get(plain.url), { code: 'WK_HTTP_INSECURE' })
    })
    await using(
      new HttpSession({ security: { allowInsecureLoopback: false, allowInsecureHTTP: ['127.0.0.1'] } }),
      async (s) => {
        assert.equal((await s.get(`${plain.url}c`, TEXT)).data, 'plain /c')
      },
    )
  })

  test('a response stored while plain http was allowed is not served from the store to a session that refuses it', async () => {
    const cacheable = await startHttpServer((_req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-type': 'text/plain' }).end('stored'),
    )
    const store = new cacheStores.MemoryCacheStore()
    try {
      await using(new HttpSession({ cache: { store } }), async (s) => {
        assert.equal((await s.get(`${cacheable.url}x`, TEXT)).data, 'stored')
        assert.equal((await s.get(`${cacheable.url}x`, TEXT)).fromCache, true)
      })
      const served = cacheable.requests
      await using(
        new HttpSession({ cache: { store }, security: { allowInsecureLoopback: false } }),
        async (s) => {
          await assert.rejects(s.get(`${cacheable.url}x`, TEXT), { code: 'WK_HTTP_INSECURE' })
        },
      )
      assert.equal(cacheable.requests, served)
    } finally {
      await cacheable.close()
    }
  })

  test('a redirect to a plain-http host that is not allowed is refused with WK_HTTP_INSECURE', async () => {
    await using(new HttpSession({ retry: false }), async (s) => {
      await assert.rejects(s.get(`${plain.url}to-insecure`), { code: 'WK_HTTP_INSECURE' })
    })
  })

  test('https through an HTTP proxy goes through a CONNECT tunnel, with validation and pins end to end', async () => {
    const pins = [certs.pinOf(certs.server.cert)]
    await using(new HttpSession({ proxy: proxy.url, ca: certs.ca, security: { pins } }), async (s) => {
      const res = await s.get(`${secure.url}via-proxy`, TEXT)
      assert.equal(res.data, 'secure /via-proxy')
    })
    assert.ok(proxy.tunnels.includes(`localhost:${secure.port}`), 'the proxy saw the CONNECT')
    const wrongPin = [certs.pinOf(certs.selfSigned.cert)]
    await using(
      new HttpSession({ proxy: proxy.url, ca: certs.ca, security: { pins: wrongPin } }),
      async (s) => {
        await assert.rejects(s.get(`${secure.url}via-proxy`), { code: 'WK_HTTP_PIN_MISMATCH' })
      },
    )
    await using(new HttpSession({ proxy: proxy.url, retry: false }), async (s) => {
      await assert.rejects(s.get(`${secure.url}via-proxy`), { code: 'WK_HTTP_TLS_UNTRUSTED' })
    })
  })

  test('plain http through the proxy reaches the server too', async () => {
    const before = proxy.tunnels.length + proxy.forwarded.length
    await using(new HttpSession({ proxy: proxy.url }), async (s) => {
      assert.equal((await s.get(`${plain.url}proxied`, TEXT)).data, 'plain /proxied')
    })
    assert.ok(proxy.tunnels.length + proxy.forwarded.length > before, 'the request went through the proxy')
  })
})
