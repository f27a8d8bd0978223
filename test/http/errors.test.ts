import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { HttpError } from '../../src/errors.ts'
import { HttpResponse, HttpSession } from '../../src/http/index.ts'
import { makeCerts } from '../helpers/certs.ts'
import { startHttpServer, startHttpsServer, type TestServer } from '../helpers/http-servers.ts'

/** A raw TCP server that answers every connection with `reply` (bytes), for responses node:http would not send. */
async function rawServer(reply: (socket: Socket) => void): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.once('data', () => reply(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

describe('HttpSession error codes', () => {
  let server: TestServer
  let api: HttpSession

  before(async () => {
    server = await startHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname === '/slow') {
        const timer = setTimeout(() => res.end('late'), 5000)
        res.on('close', () => clearTimeout(timer))
        return
      }
      if (url.pathname === '/status') {
        res.writeHead(Number(url.searchParams.get('code')), { 'content-type': 'application/json' })
        return res.end('{"reason":"server says no"}')
      }
      if (url.pathname === '/html')
        return res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>')
      if (url.pathname === '/bad-json')
        return res.writeHead(200, { 'content-type': 'application/json' }).end('{nope')
      if (url.pathname === '/big')
        return res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(5000))
      if (url.pathname === '/loop') return res.writeHead(302, { location: `/loop2?n=${Math.random()}` }).end()
      if (url.pathname === '/loop2') return res.writeHead(302, { location: `/loop?n=${Math.random()}` }).end()
      if (url.pathname === '/huge-headers')
        return res.writeHead(200, { 'x-big': 'y'.repeat(20_000) }).end('ok')
      if (url.pathname === '/redirect') return res.writeHead(301, { location: '/html' }).end()
      res.end('ok')
    })
    api = new HttpSession({ baseURL: server.url, retry: false })
  })
  after(async () => {
    await api.close()
    await server.close()
  })

  test('a request cancelled through its AbortSignal rejects with WK_HTTP_CANCELLED', async () => {
    const controller = new AbortController()
    const pending = api.get('slow', { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    await assert.rejects(pending, { code: 'WK_HTTP_CANCELLED' })
    await assert.rejects(api.get('slow', { signal: AbortSignal.abort() }), { code: 'WK_HTTP_CANCELLED' })
  })

  test('a request past its timeout rejects with WK_HTTP_TIMEOUT', async () => {
    const started = performance.now()
    await assert.rejects(api.get('slow', { timeout: 150 }), (error: HttpError) => {
      assert.equal(error.code, 'WK_HTTP_TIMEOUT')
      assert.match(error.message, /GET http:\/\/127\.0\.0\.1:\d+\/slow/)
      return true
    })
    assert.ok(performance.now() - started < 4000, 'the deadline fired long before the server answered')
  })

  test('an unparsable, relative-without-base or non-http URL rejects with WK_HTTP_BAD_URL', async () => {
    const bare = new HttpSession()
    try {
      await assert.rejects(bare.get('users'), { code: 'WK_HTTP_BAD_URL' })
      await assert.rejects(bare.get('http://exa mple.com/'), { code: 'WK_HTTP_BAD_URL' })
      await assert.rejects(bare.get('ftp://example.com/file'), { code: 'WK_HTTP_BAD_URL' })
      assert.throws(() => new HttpSession({ baseURL: 'not a url' }), { code: 'WK_HTTP_BAD_URL' })
    } finally {
      await bare.close()
    }
  })

  test('plain http to a non-loopback host rejects with WK_HTTP_INSECURE before any DNS lookup', async () => {
    await assert.rejects(api.get('http://wirekit-test.invalid/'), (error: HttpError) => {
      assert.equal(error.code, 'WK_HTTP_INSECURE')
      assert.match(error.message, /allowInsecureHTTP/)
      return true
    })
  })

  test('a host that does not resolve rejects with WK_HTTP_NETWORK', async () => {
    const allowed = new HttpSession({
      security: { allowInsecureHTTP: ['wirekit-test.invalid'] },
      retry: false,
    })
    try {
      await assert.rejects(allowed.get('http://wirekit-test.invalid/'), (error: HttpError) => {
        assert.equal(error.code, 'WK_HTTP_NETWORK')
        assert.equal((error.cause as { code?: string }).code, 'ENOTFOUND')
        return true
      })
    } finally {
      await allowed.close()
    }
  })

  test('a refused connection rejects with WK_HTTP_NETWORK', async () => {
    const gone = await startHttpServer((_req, res) => res.end())
    const url = gone.url
    await gone.close()
    await assert.rejects(api.get(url), (error: HttpError) => {
      assert.equal(error.code, 'WK_HTTP_NETWORK')
      assert.match(error.message, /ECONNREFUSED/)
      return true
    })
  })

  test('an untrusted certificate rejects with WK_HTTP_TLS_UNTRUSTED (unknown CA, expired, wrong host)', async () => {
    const certs = makeCerts()
    const servers = await Promise.all([
      startHttpsServer((_q, s) => s.end('x'), certs.selfSigned),
      startHttpsServer((_q, s) => s.end('x'), certs.expired),
      startHttpsServer((_q, s) => s.end('x'), certs.wrongHost),
    ])
    const session = new HttpSession({ ca: certs.ca, retry: false })
    try {
      for (const tlsServer of servers) {
        await assert.rejects(session.get(tlsServer.url), { code: 'WK_HTTP_TLS_UNTRUSTED' })
      }
    } finally {
      await session.close()
      await Promise.all(servers.map((s) => s.close()))
    }
  })

  test('a certificate that matches no pin rejects with WK_HTTP_PIN_MISMATCH', async () => {
    const certs = makeCerts()
    const tlsServer = await startHttpsServer((_q, s) => s.end('x'), certs.server)
    const session = new HttpSession({
      ca: certs.ca,
      security: { pins: [certs.pinOf(certs.selfSigned.cert)] },
    })
    try {
      await assert.rejects(session.get(tlsServer.url), { code: 'WK_HTTP_PIN_MISMATCH' })
    } finally {
      await session.close()
      await tlsServer.close()
    }
  })

  test('a status outside the acceptable codes rejects with WK_HTTP_STATUS carrying the decoded response', async () => {
    await assert.rejects(api.get('status?code=404'), (error: HttpError) => {
      assert.ok(error instanceof HttpError)
      assert.equal(error.code, 'WK_HTTP_STATUS')
      assert.match(error.message, /404 Not Found: GET/)
      const response = error.response as HttpResponse
      assert.ok(response instanceof HttpResponse)
      assert.equal(response.status, 404)
      assert.deepEqual(response.data, { reason: 'server says no' })
      return true
    })
  })

  test('an unacceptable content type rejects with WK_HTTP_CONTENT_TYPE carrying the response', async () => {
    await assert.rejects(
      api.get('html', { acceptableContentTypes: ['application/json'] }),
      (error: HttpError) => {
        assert.equal(error.code, 'WK_HTTP_CONTENT_TYPE')
        assert.equal((error.response as HttpResponse).data, '<p>hi</p>')
        return true
      },
    )
    const ok = await api.get('html', { acceptableContentTypes: ['application/json', 'text/*'] })
    assert.equal(ok.data, '<p>hi</p>')
  })

  test('malformed JSON, an oversize body and a short body reject with WK_HTTP_BODY', async () => {
    await assert.rejects(api.get('bad-json'), (error: HttpError) => {
      assert.equal(error.code, 'WK_HTTP_BODY')
      assert.equal((error.response as HttpResponse).status, 200)
      return true
    })
    const small = new HttpSession({ baseURL: server.url, maxResponseSize: 1000, retry: false })
    try {
      await assert.rejects(small.get('big'), { code: 'WK_HTTP_BODY' })
    } finally {
      await small.close()
    }
    const liar = await rawServer((socket) => {
      socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\nonly a few bytes')
    })
    try {
      await assert.rejects(api.get(liar.url), (error: HttpError) => {
        assert.equal(error.code, 'WK_HTTP_BODY')
        return true
      })
    } finally {
      await liar.close()
    }
  })

  test('a redirect chain longer than maxRedirects rejects with WK_HTTP_TOO_MANY_REDIRECTS', async () => {
    const followed = await api.get('redirect')
    assert.equal(followed.data, '<p>hi</p>')
    assert.equal(followed.redirects, 1)
    assert.match(followed.url, /\/html$/)
    await assert.rejects(api.get('loop', { maxRedirects: 3 }), { code: 'WK_HTTP_TOO_MANY_REDIRECTS' })
  })

  test('a response header block over maxHeaderSize rejects with WK_HTTP_HEADERS_TOO_LARGE', async () => {
    await assert.rejects(api.get('huge-headers'), { code: 'WK_HTTP_HEADERS_TOO_LARGE' })
  })

  test('garbage instead of HTTP rejects with a typed error, not a crash', async () => {
    const garbage = await rawServer((socket) => socket.end(Buffer.from([0, 255, 13, 10, 13, 10, 1, 2, 3])))
    try {
      await assert.rejects(api.get(garbage.url), (error: HttpError) => {
        assert.ok(error instanceof HttpError)
        assert.equal(error.code, 'WK_HTTP_NETWORK')
        return true
      })
    } finally {
      await garbage.close()
    }
  })
})
