import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { HttpSession } from '../../src/http/index.ts'
import { startHttpServer, type TestServer } from '../helpers/http-servers.ts'

/** True when the kernel has an IPv6 loopback to listen on. */
async function hasIPv6Loopback(): Promise<boolean> {
  const probe = createServer()
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false))
    probe.listen(0, '::1', () => probe.close(() => resolve(true)))
  })
}

describe('HttpSession with IPv6 literal URLs', () => {
  let ipv6 = false
  let server: TestServer | undefined

  before(async () => {
    ipv6 = await hasIPv6Loopback()
    if (ipv6) {
      server = await startHttpServer(
        (req, res) => res.end(`${req.socket.remoteAddress} ${req.headers.host} ${req.url}`),
        { ipv6: true },
      )
    }
  })
  after(async () => {
    await server?.close()
  })

  test('http://[::1]:port/ is requested over IPv6 (or, without an IPv6 loopback, fails with WK_HTTP_NETWORK)', async () => {
    const api = new HttpSession({ retry: false })
    try {
      if (server === undefined) {
        await assert.rejects(api.get('http://[::1]:9/'), { code: 'WK_HTTP_NETWORK' })
        return
      }
      const res = await api.get<string>(`${server.url}path?q=1`, { responseType: 'text' })
      assert.equal(res.url, `http://[::1]:${server.port}/path?q=1`)
      assert.equal(res.data, `::1 [::1]:${server.port} /path?q=1`)
    } finally {
      await api.close()
    }
  })

  test('[::1] counts as loopback for the plain-HTTP rule, and allowInsecureLoopback: false refuses it', async () => {
    const port = server?.port ?? 9
    const strict = new HttpSession({ security: { allowInsecureLoopback: false } })
    try {
      await assert.rejects(strict.get(`http://[::1]:${port}/`), { code: 'WK_HTTP_INSECURE' })
    } finally {
      await strict.close()
    }
  })

  test('a baseURL with an IPv6 literal resolves relative paths', async (t) => {
    if (server === undefined) {
      t.diagnostic('no IPv6 loopback: covered by the WK_HTTP_NETWORK assertion above')
      const api = new HttpSession({ baseURL: 'http://[::1]:9/v1/', retry: false })
      try {
        await assert.rejects(api.get('x'), { code: 'WK_HTTP_NETWORK' })
      } finally {
        await api.close()
      }
      return
    }
    const api = new HttpSession({ baseURL: `${server.url}v1/` })
    try {
      const res = await api.get<string>('users/7', { responseType: 'text' })
      assert.match(res.data, /\/v1\/users\/7$/)
    } finally {
      await api.close()
    }
  })
})
