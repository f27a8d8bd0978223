import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import type { HttpError } from '../../src/errors.ts'
import { type HttpResponse, HttpSession } from '../../src/http/index.ts'
import { startHttpServer, type TestServer } from '../helpers/http-servers.ts'

type Echo = { method: string; url: string; headers: Record<string, string | undefined>; body: string }

async function echo(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const body: Echo = {
    method: req.method ?? '',
    url: req.url ?? '',
    headers: req.headers as Record<string, string>,
    body: Buffer.concat(chunks).toString('utf8'),
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

describe('HttpSession redirects', () => {
  let origin: TestServer
  let other: TestServer
  const seen: string[] = []

  before(async () => {
    other = await startHttpServer((req, res) => void echo(req, res))
    origin = await startHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      seen.push(url.pathname)
      const redirect = (status: number, location: string) => {
        // Drain the request body first so the connection stays usable for the next hop.
        req.resume()
        req.on('end', () => res.writeHead(status, { location }).end('moved'))
      }
      switch (url.pathname) {
        case '/see-other':
          return redirect(303, '/echo')
        case '/found':
          return redirect(302, '/echo')
        case '/temporary':
          return redirect(307, '/echo')
        case '/cross':
          return redirect(302, `${other.url}echo`)
        case '/chain': {
          const n = Number(url.searchParams.get('n'))
          return n > 0 ? redirect(302, `/chain?n=${n - 1}`) : void echo(req, res)
        }
        case '/bad-location':
          return redirect(302, 'ftp://example.com/file')
        case '/slow-hop':
          setTimeout(() => redirect(302, '/echo'), 120)
          return
        case '/hop-to-fresh':
          return redirect(302, '/fresh')
        case '/fresh':
          return res
            .writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
            .end('fresh')
        default:
          return void echo(req, res)
      }
    })
  })
  after(async () => {
    await Promise.all([origin.close(), other.close()])
  })

  async function using<T>(session: HttpSession, run: (s: HttpSession) => Promise<T>): Promise<T> {
    try {
      return await run(session)
    } finally {
      await session.close()
    }
  }

  test('a 303 after a POST is followed with a GET that has no body and no content headers', async () => {
    await using(new HttpSession({ baseURL: origin.url }), async (api) => {
      const res = await api.post<Echo>('see-other', { json: { a: 1 } })
      assert.equal(res.data.method, 'GET')
      assert.equal(res.data.body, '')
      assert.equal(res.data.headers['content-type'], undefined)
      assert.equal(res.redirects, 1)
      assert.equal(res.url, `${origin.url}echo`)
    })
  })

  test('a 302 after a POST becomes a GET, as browsers do, while HEAD stays HEAD through a 303', async () => {
    await using(new HttpSession({ baseURL: origin.url }), async (api) => {
      const res = await api.post<Echo>('found', { form: { a: '1' } })
      assert.equal(res.data.method, 'GET')
      assert.equal(res.data.body, '')
      const head = await api.head('see-other')
      assert.equal(head.status, 200)
      assert.equal(head.method, 'HEAD')
      assert.equal(head.redirects, 1)
    })
  })

  test('a 307 repeats the method and the body', async () => {
    await using(new HttpSession({ baseURL: origin.url }), async (api) => {
      const res = await api.put<Echo>('temporary', { json: { keep: 'me' } })
      assert.equal(res.data.method, 'PUT')
      assert.deepEqual(JSON.parse(res.data.body), { keep: 'me' })
      assert.equal(res.data.headers['content-type'], 'application/json')
    })
  })

  test('a 307 whose stream body cannot be sent again is not followed: the 3xx fails validation', async () => {
    await using(new HttpSession({ baseURL: origin.url, retry: false }), async (api) => {
      const body = Readable.from([Buffer.from('once')])
      await assert.rejects(api.post('temporary', { body }), (error: HttpError) => {
        assert.equal(error.code, 'WK_HTTP_STATUS')
        assert.equal((error.response as HttpResponse).status, 307)
        return true
      })
    })
  })

  test('credentials and cookies are dropped on a cross-origin redirect and kept on a same-origin one', async () => {
    const headers = { authorization: 'Bearer secret', cookie: 'sid=1', 'x-keep': 'yes' }
    await using(new HttpSession({ baseURL: origin.url }), async (api) => {
      const cross = await api.get<Echo>('cross', { headers })
      assert.equal(cross.url, `${other.url}echo`)
      assert.equal(cross.data.headers.authorization, undefined)
      assert.equal(cross.data.headers.cookie, undefined)
      assert.equal(cross.data.headers['x-keep'], 'yes')
      const same = await api.get<Echo>('found', { headers })
      assert.equal(same.data.headers.authorization, 'Bearer secret')
      assert.equal(same.data.headers.cookie, 'sid=1')
    })
  })

  test('credentialHeaders are dropped on a cross-origin redirect, kept on a same-origin one, per session and per request', async () => {
    const headers = { 'X-Api-Key': 'k3y', 'x-keep': 'yes' }
    await using(new HttpSession({ baseURL: origin.url }), async (api) => {
      // Without the option a custom header is not known to be a credential: it follows the redirect.
      assert.equal((await api.get<Echo>('cross', { headers })).data.headers['x-api-key'], 'k3y')
      const cross = await api.get<Echo>('cross', { headers, credentialHeaders: ['x-api-key'] })
      assert.equal(cross.url, `${other.url}echo`)
      assert.equal(cross.data.headers['x-api-key'], undefined)
      assert.equal(cross.data.headers['x-keep'], 'yes')
    })
    await using(new HttpSession({ baseURL: origin.url, credentialHeaders: ['X-API-KEY'] }), async (api) => {
      const cross = await api.get<Echo>('cross', { headers, query: { n: 1 } })
      assert.equal(cross.data.headers['x-api-key'], undefined)
      const same = await api.get<Echo>('found', { headers })
      assert.equal(same.data.headers['x-api-key'], 'k3y')
    })
  })

  test('maxRedirects redirects are followed; one more rejects with WK_HTTP_TOO_MANY_REDIRECTS and the 3xx', async () => {
    await using(new HttpSession({ baseURL: origin.url, maxRedirects: 2 }), async (api) => {
      const ok = await api.get<Echo>('chain?n=2')
      assert.equal(ok.redirects, 2)
      assert.equal(ok.data.url, '/chain?n=0')
      await assert.rejects(api.get('chain?n=3'), (error: HttpError) => {
        assert.equal(error.code, 'WK_HTTP_TOO_MANY_REDIRECTS')
        assert.equal((error.response as HttpResponse).status, 302)
        return true
      })
    })
  })

  test('maxRedirects: 0 hands the 3xx back as it is, to validation', async () => {
    await using(new HttpSession({ baseURL: origin.url, maxRedirects: 0 }), async (api) => {
      const res = await api.get('found', { acceptableStatusCodes: [302], responseType: 'text' })
      assert.equal(res.status, 302)
      assert.equal(res.headers.location, '/echo')
      assert.equal(res.data, 'moved')
      await assert.rejects(api.get('found'), { code: 'WK_HTTP_STATUS' })
    })
  })

  test('a Location that is not an http(s) URL rejects with WK_HTTP_BAD_URL', async () => {
    await using(new HttpSession({ baseURL: origin.url }), async (api) => {
      await assert.rejects(api.get('bad-location'), (error: HttpError) => {
        assert.equal(error.code, 'WK_HTTP_BAD_URL')
        assert.equal((error.response as HttpResponse).status, 302)
        return true
      })
    })
  })

  test('timings of a redirected response span every hop', async () => {
    await using(new HttpSession({ baseURL: origin.url }), async (api) => {
      const res = await api.get<Echo>('slow-hop')
      assert.equal(res.redirects, 1)
      // The first hop alone took ~120 ms; generous lower bound for coarse timers.
      assert.ok(res.timings.firstByte >= 90, `firstByte ${res.timings.firstByte}`)
      assert.ok(res.timings.total >= res.timings.firstByte)
    })
  })

  test('with a cache, each hop is cached under its own URL by its own rules', async () => {
    await using(new HttpSession({ baseURL: origin.url, cache: { store: 'memory' } }), async (api) => {
      const before = seen.length
      const first = await api.get('hop-to-fresh', { responseType: 'text' })
      const second = await api.get('hop-to-fresh', { responseType: 'text' })
      assert.equal(first.data, 'fresh')
      assert.equal(second.data, 'fresh')
      assert.equal(first.fromCache, false)
      assert.equal(second.fromCache, true)
      assert.equal(second.redirects, 1)
      // The 302 has no freshness, so the origin sees it twice; the target, fresh for 60 s, once.
      assert.deepEqual(seen.slice(before), ['/hop-to-fresh', '/fresh', '/hop-to-fresh'])
    })
  })
})
