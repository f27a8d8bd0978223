// Request headers in every HeadersInit form (plain object, Headers, [name, value] pairs), per request and in the
// session options, against a server that echoes what it received. A repeated name must be kept, not dropped.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { HeadersInit } from '../../src/http/index.ts'
import { HttpSession } from '../../src/http/index.ts'
import { startHttpServer, type TestServer } from '../helpers/http-servers.ts'

type Echo = { headers: Record<string, string>; raw: string[] }

const FORMS: Array<[string, () => HeadersInit]> = [
  ['a plain object', () => ({ 'X-Test': 'v' })],
  ['a Headers instance', () => new Headers({ 'X-Test': 'v' })],
  ['an array of pairs', () => [['X-Test', 'v']]],
]

describe('request headers in every HeadersInit form', () => {
  let server: TestServer
  let api: HttpSession

  before(async () => {
    server = await startHttpServer((req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ headers: req.headers, raw: req.rawHeaders }))
    })
    api = new HttpSession({ baseURL: server.url })
  })
  after(async () => {
    await api.close()
    await server.close()
  })

  for (const [name, make] of FORMS) {
    test(`per request, headers given as ${name} reach the server`, async () => {
      const res = await api.get<Echo>('echo', { headers: make() })
      assert.equal(res.data.headers['x-test'], 'v')
    })

    test(`in the session options, headers given as ${name} reach the server with every request`, async () => {
      const session = new HttpSession({ baseURL: server.url, headers: make() })
      try {
        for (let i = 0; i < 2; i++) {
          const res = await session.get<Echo>('echo')
          assert.equal(res.data.headers['x-test'], 'v')
        }
      } finally {
        await session.close()
      }
    })
  }

  test('a name repeated in an array of pairs keeps every value, per request and in the session', async () => {
    const pairs: HeadersInit = [
      ['x-tag', 'a'],
      ['X-Tag', 'b'],
    ]
    const res = await api.get<Echo>('echo', { headers: pairs })
    assert.equal(res.data.headers['x-tag'], 'a, b')
    const session = new HttpSession({ baseURL: server.url, headers: pairs })
    try {
      assert.equal((await session.get<Echo>('echo')).data.headers['x-tag'], 'a, b')
    } finally {
      await session.close()
    }
  })

  test('a name appended twice to Headers, or an array value in an object, keeps every value', async () => {
    const headers = new Headers()
    headers.append('x-tag', 'a')
    headers.append('x-tag', 'b')
    assert.equal((await api.get<Echo>('echo', { headers })).data.headers['x-tag'], 'a, b')
    const object = { 'x-tag': ['c', 'd'] }
    assert.equal((await api.get<Echo>('echo', { headers: object })).data.headers['x-tag'], 'c, d')
  })

  test('repeated Cookie pairs are joined with "; " as one cookie header', async () => {
    const res = await api.get<Echo>('echo', {
      headers: [
        ['cookie', 'a=1'],
        ['cookie', 'b=2'],
      ],
    })
    assert.equal(res.data.headers.cookie, 'a=1; b=2')
  })

  test('a request header overrides the session header of the same name, whatever the forms', async () => {
    const session = new HttpSession({ baseURL: server.url, headers: new Headers({ 'x-test': 'session' }) })
    try {
      const res = await session.get<Echo>('echo', { headers: [['X-Test', 'request']] })
      assert.equal(res.data.headers['x-test'], 'request')
      assert.equal(res.data.raw.filter((h) => h.toLowerCase() === 'x-test').length, 1)
    } finally {
      await session.close()
    }
  })

  test('an Authorization built with Headers leaves the machine', async () => {
    const res = await api.get<Echo>('echo', { headers: new Headers({ authorization: 'Bearer t0k' }) })
    assert.equal(res.data.headers.authorization, 'Bearer t0k')
  })

  test('a malformed pair list or a line break in a value throws WK_INVALID_ARGUMENT at once', () => {
    assert.throws(() => api.get('echo', { headers: [['x-only-name']] as unknown as HeadersInit }), {
      code: 'WK_INVALID_ARGUMENT',
    })
    assert.throws(() => api.get('echo', { headers: { 'x-a': 'one\r\nx-b: two' } }), {
      code: 'WK_INVALID_ARGUMENT',
    })
  })
})
