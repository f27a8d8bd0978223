import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, test } from 'node:test'
import { type HttpEvent, HttpSession } from '../../src/http/index.ts'
import { parseRetryAfter } from '../../src/http/interceptors/retry.ts'
import { startHttpServer, type TestServer } from '../helpers/http-servers.ts'

describe('HttpSession retries and interceptors', () => {
  let server: TestServer
  let hits: Map<string, number[]>

  before(async () => {
    server = await startHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const key = url.pathname
      const times = hits.get(key) ?? []
      times.push(performance.now())
      hits.set(key, times)
      const failures = Number(url.searchParams.get('fail') ?? 0)
      if (times.length <= failures) {
        const status = Number(url.searchParams.get('status') ?? 503)
        const retryAfter = url.searchParams.get('after')
        if (retryAfter !== null) res.setHeader('retry-after', retryAfter)
        if (url.searchParams.get('cut') === '1') return req.socket.destroy()
        return res.writeHead(status).end('try later')
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ attempt: times.length, auth: req.headers.authorization ?? null }))
    })
  })
  beforeEach(() => {
    hits = new Map()
  })
  after(async () => {
    await server.close()
  })

  test('a GET answered 503 with Retry-After is retried after the announced delay', async () => {
    const api = new HttpSession({ baseURL: server.url, retry: { limit: 2, initialDelay: 10 } })
    try {
      const res = await api.get<{ attempt: number }>('a?fail=1&after=1')
      assert.equal(res.data.attempt, 2)
      assert.equal(res.attempts, 2)
      const [first, second] = hits.get('/a') ?? []
      assert.ok(second - first >= 900, `waited ${second - first} ms for Retry-After: 1`)
    } finally {
      await api.close()
    }
  })

  test('Retry-After accepts seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('3'), 3000)
    const now = Date.parse('2030-01-01T00:00:00Z')
    assert.equal(parseRetryAfter('Tue, 01 Jan 2030 00:00:05 GMT', now), 5000)
    assert.equal(parseRetryAfter('soon'), undefined)
    assert.equal(parseRetryAfter(undefined), undefined)
  })

  test('a Retry-After beyond maxRetryAfter is not waited for: the status error comes at once', async () => {
    const api = new HttpSession({ baseURL: server.url, retry: { limit: 2, maxRetryAfter: 500 } })
    try {
      await assert.rejects(api.get('b?fail=5&after=120&status=429'), { code: 'WK_HTTP_STATUS' })
      assert.equal(hits.get('/b')?.length, 1)
    } finally {
      await api.close()
    }
  })

  test('retries stop at the limit and the last status fails the request', async () => {
    const api = new HttpSession({ baseURL: server.url, retry: { limit: 2, initialDelay: 5, maxDelay: 20 } })
    try {
      await assert.rejects(
        api.get('c?fail=10&status=502'),
        (error: { code: string; response: { attempts: number } }) => {
          assert.equal(error.code, 'WK_HTTP_STATUS')
          assert.equal(error.response.attempts, 3)
          return true
        },
      )
      assert.equal(hits.get('/c')?.length, 3)
    } finally {
      await api.close()
    }
  })

  test('a connection cut before the response is retried for an idempotent method', async () => {
    const api = new HttpSession({ baseURL: server.url, retry: { limit: 2, initialDelay: 5 } })
    try {
      const res = await api.get<{ attempt: number }>('d?fail=1&cut=1')
      assert.equal(res.data.attempt, 2)
    } finally {
      await api.close()
    }
  })

  test('POST is not retried by default', async () => {
    const api = new HttpSession({ baseURL: server.url, retry: { limit: 3, initialDelay: 5 } })
    try {
      await assert.rejects(api.post('e?fail=1', { json: { x: 1 } }), { code: 'WK_HTTP_STATUS' })
      assert.equal(hits.get('/e')?.length, 1)
    } finally {
      await api.close()
    }
  })

  test('cancelling during the backoff rejects with WK_HTTP_CANCELLED without another attempt', async () => {
    const api = new HttpSession({ baseURL: server.url, retry: { limit: 3 } })
    try {
      const controller = new AbortController()
      const pending = api.get('f?fail=5&after=5', { signal: controller.signal })
      setTimeout(() => controller.abort(), 200)
      await assert.rejects(pending, { code: 'WK_HTTP_CANCELLED' })
      assert.equal(hits.get('/f')?.length, 1)
    } finally {
      await api.close()
    }
  })

  test('an interceptor adapts each attempt, decides a retry and observes the events', async () => {
    const events: string[] = []
    let tokens = 0
    const api = new HttpSession({
      baseURL: server.url,
      retry: false,
      interceptors: [
        {
          adapt(request) {
            request.headers.authorization = `Bearer token-${++tokens}`
          },
          retry({ response, request }) {
            return response?.status === 401 && request.attempt < 3 ? 1 : undefined
          },
          observe(event: HttpEvent) {
            events.push(event.type)
          },
        },
      ],
    })
    try {
      const res = await api.get<{ attempt: number; auth: string }>('g?fail=1&status=401')
      assert.equal(res.data.attempt, 2)
      assert.equal(res.data.auth, 'Bearer token-2', 'the retried attempt was adapted again')
      assert.deepEqual(events, ['request', 'retry', 'request', 'response'])
    } finally {
      await api.close()
    }
  })

  test('an interceptor can veto a retry the policy would make', async () => {
    const api = new HttpSession({
      baseURL: server.url,
      retry: { limit: 3, initialDelay: 5 },
      interceptors: [{ retry: () => false }],
    })
    try {
      await assert.rejects(api.get('h?fail=2'), { code: 'WK_HTTP_STATUS' })
      assert.equal(hits.get('/h')?.length, 1)
    } finally {
      await api.close()
    }
  })
})
