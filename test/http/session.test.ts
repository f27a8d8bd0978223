import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { openAsBlob } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { HttpSession } from '../../src/http/index.ts'
import { makeCerts } from '../helpers/certs.ts'
import { startHttpServer, startHttpsServer, type TestServer } from '../helpers/http-servers.ts'

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function route(req: IncomingMessage, res: ServerResponse): unknown {
  const url = new URL(req.url ?? '/', 'http://x')
  const send = (status: number, type: string | undefined, body: string | Buffer) => {
    if (type !== undefined) res.setHeader('content-type', type)
    res.writeHead(status).end(body)
  }
  switch (url.pathname) {
    case '/json':
      return send(200, 'application/json; charset=utf-8', JSON.stringify({ hello: 'world', n: [1, 2] }))
    case '/vendor-json':
      return send(200, 'application/vnd.api+json', '{"data":{"id":"1"}}')
    case '/text':
      return send(200, 'text/plain; charset=utf-8', 'héllo')
    case '/bytes':
      return send(200, 'application/octet-stream', Buffer.from([0, 1, 2, 255]))
    case '/no-content':
      return send(204, undefined, '')
    case '/reset-content':
      return send(205, undefined, '')
    case '/status':
      return send(Number(url.searchParams.get('code')), 'application/json', '{"error":"nope"}')
    default:
      readBody(req).then((body) => {
        const echo = {
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: body.toString('utf8'),
          length: body.length,
          http: req.httpVersion,
        }
        send(200, 'application/json', JSON.stringify(echo))
      })
  }
}

type Echo = {
  method: string
  url: string
  headers: Record<string, string>
  body: string
  length: number
  http: string
}

describe('HttpSession', () => {
  let server: TestServer
  let api: HttpSession
  let dir: string

  before(async () => {
    server = await startHttpServer(route)
    api = new HttpSession({ baseURL: `${server.url}v1/`, headers: { 'x-app': 'wirekit-test' } })
    dir = await mkdtemp(join(tmpdir(), 'wirekit-http-'))
  })
  after(async () => {
    await api.close()
    await server.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('relative paths resolve against baseURL as URL resolution does', async () => {
    const relative = await api.get<Echo>('users/7')
    assert.equal(relative.data.url, '/v1/users/7')
    const absolutePath = await api.get<Echo>('/users/7')
    assert.equal(absolutePath.data.url, '/users/7')
    const full = await api.get<Echo>(`${server.url}other`)
    assert.equal(full.data.url, '/other')
  })

  test('default headers are sent and request headers override them', async () => {
    const plain = await api.get<Echo>('h')
    assert.equal(plain.data.headers['x-app'], 'wirekit-test')
    const overridden = await api.get<Echo>('h', { headers: { 'X-App': 'other', 'x-extra': 'yes' } })
    assert.equal(overridden.data.headers['x-app'], 'other')
    assert.equal(overridden.data.headers['x-extra'], 'yes')
  })

  test('every method helper sends its method', async () => {
    for (const [call, method] of [
      [api.get.bind(api), 'GET'],
      [api.post.bind(api), 'POST'],
      [api.put.bind(api), 'PUT'],
      [api.patch.bind(api), 'PATCH'],
      [api.delete.bind(api), 'DELETE'],
    ] as const) {
      const res = await call<Echo>('m')
      assert.equal(res.data.method, method)
    }
    const options = await api.request<Echo>('OPTIONS', 'm')
    assert.equal(options.data.method, 'OPTIONS')
  })

  test('query arrays repeat their key and nested objects use bracket paths', async () => {
    const res = await api.get<Echo>('q?keep=1', {
      query: {
        page: 2,
        tag: ['a', 'b'],
        user: { name: 'a b', address: { city: 'Zürich' } },
        skip: undefined,
        none: null,
      },
    })
    const params = new URL(res.data.url, 'http://x').searchParams
    assert.equal(params.get('keep'), '1')
    assert.equal(params.get('page'), '2')
    assert.deepEqual(params.getAll('tag'), ['a', 'b'])
    assert.equal(params.get('user[name]'), 'a b')
    assert.equal(params.get('user[address][city]'), 'Zürich')
    assert.equal(params.has('skip'), false)
    assert.equal(params.has('none'), false)
  })

  test('json bodies are sent with application/json', async () => {
    const res = await api.post<Echo>('users', { json: { name: 'Ada', tags: ['x'] } })
    assert.equal(res.data.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(res.data.body), { name: 'Ada', tags: ['x'] })
  })

  test('form bodies are urlencoded with + for spaces', async () => {
    const res = await api.post<Echo>('form', {
      form: { name: 'Ada Lovelace', langs: ['en', 'fr'], amp: 'a&b' },
    })
    assert.match(res.data.headers['content-type'], /^application\/x-www-form-urlencoded/)
    assert.equal(res.data.body, 'name=Ada+Lovelace&langs=en&langs=fr&amp=a%26b')
    const parsed = new URLSearchParams(res.data.body)
    assert.equal(parsed.get('amp'), 'a&b')
  })

  test('multipart bodies carry fields, file blobs and buffers that a standard parser reads back', async () => {
    const path = join(dir, 'upload.bin')
    const bytes = Buffer.alloc(300_000, 7)
    await writeFile(path, bytes)
    const form = new FormData()
    form.append('title', 'holiday "photos"')
    form.append('file', new File([await openAsBlob(path)], 'photo.bin', { type: 'image/png' }))
    form.append('raw', new Blob([Buffer.from('abc')]), 'raw.txt')
    const res = await api.post<Echo>('upload', { multipart: form })
    const type = res.data.headers['content-type']
    assert.match(type, /^multipart\/form-data; boundary=/)
    assert.equal(
      Number(res.data.headers['content-length']),
      res.data.length,
      'all sizes known: Content-Length is exact',
    )
    const parsed = await new Response(res.data.body, { headers: { 'content-type': type } }).formData()
    assert.equal(parsed.get('title'), 'holiday "photos"')
    const file = parsed.get('file') as File
    assert.equal(file.name, 'photo.bin')
    assert.equal(file.type, 'image/png')
    assert.equal(file.size, bytes.length)
    assert.equal(await (parsed.get('raw') as File).text(), 'abc')
  })

  test('multipart parts may be streams, sent with chunked encoding when their size is unknown', async () => {
    const res = await api.post<Echo>('upload', {
      multipart: [
        { name: 'note', value: 'hi' },
        {
          name: 'log',
          value: Readable.from([Buffer.from('line1\n'), Buffer.from('line2\n')]),
          filename: 'log.txt',
        },
      ],
    })
    assert.equal(res.data.headers['transfer-encoding'], 'chunked')
    const parsed = await new Response(res.data.body, {
      headers: { 'content-type': res.data.headers['content-type'] },
    }).formData()
    assert.equal(await (parsed.get('log') as File).text(), 'line1\nline2\n')
    assert.equal(parsed.get('note'), 'hi')
  })

  test('raw string, buffer and stream bodies are sent as they are', async () => {
    const text = await api.put<Echo>('raw', { body: 'plain', headers: { 'content-type': 'text/plain' } })
    assert.equal(text.data.body, 'plain')
    assert.equal(text.data.headers['content-type'], 'text/plain')
    const buffer = await api.put<Echo>('raw', { body: Buffer.from('bytes') })
    assert.equal(buffer.data.body, 'bytes')
    const stream = await api.post<Echo>('raw', {
      body: Readable.from([Buffer.from('str'), Buffer.from('eam')]),
    })
    assert.equal(stream.data.body, 'stream')
  })

  test('responses decode by Content-Type: JSON (and +json) parsed, text as string, other as bytes', async () => {
    assert.deepEqual((await api.get('/json')).data, { hello: 'world', n: [1, 2] })
    assert.deepEqual((await api.get('/vendor-json')).data, { data: { id: '1' } })
    assert.equal((await api.get('/text')).data, 'héllo')
    const bytes = (await api.get('/bytes')).data
    assert.ok(Buffer.isBuffer(bytes))
    assert.deepEqual([...(bytes as Buffer)], [0, 1, 2, 255])
  })

  test('responseType overrides the Content-Type', async () => {
    assert.equal((await api.get('/json', { responseType: 'text' })).data, '{"hello":"world","n":[1,2]}')
    assert.ok(Buffer.isBuffer((await api.get('/json', { responseType: 'bytes' })).data))
    assert.deepEqual((await api.get('/text', { responseType: 'bytes' })).data, Buffer.from('héllo'))
    const streamed = await api.get<Readable>('/json', { responseType: 'stream' })
    const chunks: Buffer[] = []
    for await (const chunk of streamed.data) chunks.push(chunk as Buffer)
    assert.deepEqual(JSON.parse(Buffer.concat(chunks).toString()), { hello: 'world', n: [1, 2] })
  })

  test('204, 205 and HEAD responses have no data', async () => {
    const noContent = await api.get('/no-content')
    assert.equal(noContent.status, 204)
    assert.equal(noContent.data, undefined)
    const reset = await api.get('/reset-content', { responseType: 'json' })
    assert.equal(reset.status, 205)
    assert.equal(reset.data, undefined)
    const head = await api.head('/json')
    assert.equal(head.status, 200)
    assert.equal(head.data, undefined)
    assert.match(head.headers['content-type'], /application\/json/)
  })

  test('acceptableStatusCodes can accept a non-2xx status', async () => {
    const res = await api.get('/status?code=404', { acceptableStatusCodes: [200, 404] })
    assert.equal(res.status, 404)
    assert.deepEqual(res.data, { error: 'nope' })
  })

  test('timings are present and ordered, and a pooled connection is reported as reused', async () => {
    const fresh = new HttpSession()
    try {
      const first = await fresh.get(`${server.url}json`)
      const t = first.timings
      assert.equal(t.reused, false)
      assert.ok(t.connect > 0, 'a new connection takes time to open')
      assert.equal(t.tls, 0)
      assert.ok(t.dns + t.connect + t.tls <= t.firstByte, 'connection phases precede the first byte')
      assert.ok(t.firstByte <= t.total)
      assert.ok(Math.abs(t.start - Date.now()) < 60_000)
      const second = await fresh.get(`${server.url}json`)
      const third = await fresh.get(`${server.url}json`)
      assert.ok(second.timings.reused || third.timings.reused, 'keep-alive reuses a connection')
      const reused = second.timings.reused ? second : third
      assert.equal(reused.timings.connect, 0)
      assert.ok(reused.timings.firstByte <= reused.timings.total)
    } finally {
      await fresh.close()
    }
  })

  test('a localhost URL pays DNS and a https one TLS, both in the timings', async () => {
    const certs = makeCerts()
    const tlsServer = await startHttpsServer(route, certs.server)
    const session = new HttpSession({ ca: certs.ca })
    try {
      const res = await session.get(`${tlsServer.url}json`)
      assert.ok(res.timings.tls > 0, 'a TLS handshake takes time')
      assert.ok(res.timings.dns >= 0)
      assert.ok(res.timings.dns + res.timings.connect + res.timings.tls <= res.timings.firstByte)
    } finally {
      await session.close()
      await tlsServer.close()
    }
  })

  test('HTTP/2 is negotiated through ALPN when the server offers it, and HTTP/1.1 when allowH2 is false', async () => {
    const certs = makeCerts()
    const h2 = await startHttpsServer(route, certs.server, { h2: true })
    const session = new HttpSession({ ca: certs.ca })
    const h1only = new HttpSession({ ca: certs.ca, allowH2: false })
    try {
      assert.equal((await session.post<Echo>(`${h2.url}echo`, { json: { a: 1 } })).data.http, '2.0')
      assert.equal((await h1only.get<Echo>(`${h2.url}echo`)).data.http, '1.1')
    } finally {
      await session.close()
      await h1only.close()
      await h2.close()
    }
  })

  test('wirekit:http:request publishes request and response events', async () => {
    const events: string[] = []
    const listener = (message: unknown) => events.push((message as { type: string }).type)
    subscribe('wirekit:http:request', listener)
    try {
      await api.get('/json')
    } finally {
      unsubscribe('wirekit:http:request', listener)
    }
    assert.deepEqual(events, ['request', 'response'])
  })

  test('without a cache, updates() yields the one response and onUpdate sees it, fromCache false', async () => {
    const seen: number[] = []
    const pending = api.get('/json', { onUpdate: (r) => seen.push(r.status) })
    const all = []
    for await (const res of pending.updates()) all.push(res)
    assert.equal(all.length, 1)
    assert.equal(all[0], await pending)
    assert.equal(all[0].fromCache, false)
    assert.deepEqual(seen, [200])
  })

  test('with a cache, a fresh response is served from it and cache-then-network delivers twice', async () => {
    let hits = 0
    const origin = await startHttpServer((req, res) => {
      hits++
      const headers = { etag: '"v1"', 'cache-control': 'max-age=60' }
      if (req.headers['if-none-match'] === '"v1"') return res.writeHead(304, headers).end()
      res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify({ hits }))
    })
    const cached = new HttpSession({ baseURL: origin.url, cache: { store: 'memory' } })
    try {
      const first = await cached.get('feed')
      assert.equal(first.fromCache, false)
      const second = await cached.get('feed')
      assert.equal(second.fromCache, true)
      assert.deepEqual(second.data, { hits: 1 })
      const updates: boolean[] = []
      const pending = cached.get('feed', {
        cachePolicy: 'cache-then-network',
        onUpdate: (r) => updates.push(r.fromCache),
      })
      const delivered = []
      for await (const res of pending.updates()) delivered.push(res)
      assert.equal(delivered.length, 2)
      assert.equal(delivered[0], await pending)
      assert.equal(delivered[0].fromCache, true)
      assert.equal(delivered[1].notModified, true, 'the 304 says the cached copy is current')
      assert.equal(updates.length, 2)
      assert.equal(hits, 2)
    } finally {
      await cached.close()
      await origin.close()
    }
  })

  test('conflicting body options throw at once', () => {
    assert.throws(() => api.post('x', { json: {}, form: {} }), { code: 'WK_INVALID_ARGUMENT' })
  })
})
