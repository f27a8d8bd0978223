// The cache end to end through HttpSession (`cache: { store: 'sqlite', path }`): what `api.get()` resolves to,
// what `.updates()` and `onUpdate` deliver, and the offline fallback, against a real local origin.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { HttpResponse } from '../../src/http/response.ts'
import { HttpSession } from '../../src/http/session.ts'
import { type Origin, startOrigin } from './cache-origin.ts'

let origin: Origin
let dir: string
const sessions: HttpSession[] = []

before(async () => {
  origin = await startOrigin()
  dir = await mkdtemp(join(tmpdir(), 'wirekit-cache-session-'))
})
after(async () => {
  for (const s of sessions) await s.close()
  await origin.close()
  await rm(dir, { recursive: true, force: true })
})

let files = 0
function session(options: ConstructorParameters<typeof HttpSession>[0] = {}): HttpSession {
  const api = new HttpSession({
    retry: false,
    cache: { store: 'sqlite', path: join(dir, `s${++files}.sqlite`) },
    ...options,
  })
  sessions.push(api)
  return api
}

describe('HttpSession with a SQLite cache', () => {
  test('a fresh response is resolved from the cache the second time, with data decoded', async () => {
    const api = session()
    const url = origin.serve({ body: '{"n":1}', cacheControl: 'max-age=60' })
    const first = await api.get(url, { responseType: 'json' })
    const second = await api.get(url, { responseType: 'json' })
    assert.deepEqual([first.data, first.fromCache], [{ n: 1 }, false])
    assert.deepEqual([second.data, second.fromCache], [{ n: 1 }, true])
    assert.equal(origin.count(url), 1)
  })

  test('a 304 revalidation resolves with the cached body marked notModified', async () => {
    const api = session()
    const resource = { body: 'v1', etag: '"v1"', cacheControl: 'max-age=0' }
    const url = origin.serve(resource)
    await api.get(url)
    resource.cacheControl = 'max-age=60'
    const revalidated = await api.get(url, { responseType: 'text' })
    assert.deepEqual(
      [revalidated.status, revalidated.data, revalidated.fromCache, revalidated.notModified],
      [200, 'v1', true, true],
    )
    const fresh = await api.get(url)
    assert.equal(fresh.fromCache, true)
    assert.equal(origin.count(url), 2)
  })

  test('cache-then-network: updates() yields the cached response, then the fresh one; onUpdate sees both', async () => {
    const api = session()
    const resource = { body: 'old', etag: '"1"', cacheControl: 'max-age=60' }
    const url = origin.serve(resource)
    await api.get(url)
    Object.assign(resource, { body: 'new', etag: '"2"' })
    const updates: HttpResponse[] = []
    const request = api.get(url, {
      cachePolicy: 'cache-then-network',
      responseType: 'text',
      onUpdate: (r) => updates.push(r),
    })
    const first = await request
    assert.deepEqual([first.data, first.fromCache], ['old', true])
    const all: HttpResponse[] = []
    for await (const r of request.updates()) all.push(r)
    assert.deepEqual(
      all.map((r) => [r.data, r.fromCache]),
      [
        ['old', true],
        ['new', false],
      ],
    )
    assert.equal(updates.length, 2)
  })

  test('cache-then-network: an unchanged resource comes back as a notModified second delivery', async () => {
    const api = session()
    const url = origin.serve({ body: 'same', etag: '"s"', cacheControl: 'max-age=60' })
    await api.get(url)
    const all: HttpResponse[] = []
    for await (const r of api.get(url, { cachePolicy: 'cache-then-network', responseType: 'text' }).updates())
      all.push(r)
    assert.deepEqual(
      all.map((r) => [r.status, r.data, r.fromCache, r.notModified]),
      [
        [200, 'same', true, undefined],
        [200, 'same', true, true],
      ],
    )
  })

  test('network-first falls back to the stored response when the origin is down', async () => {
    const api = session()
    const gone = await startOrigin()
    const url = gone.serve({ body: 'offline copy', cacheControl: 'max-age=0', etag: '"o"' })
    await api.get(url)
    await gone.close()
    const res = await api.get(url, { cachePolicy: 'network-first', responseType: 'text' })
    assert.deepEqual([res.data, res.fromCache], ['offline copy', true])
    await assert.rejects(api.get(`${url}-missing`, { cachePolicy: 'network-first' }), {
      code: 'WK_HTTP_NETWORK',
    })
  })

  test('a cache miss under cache-then-network (default retries on) is one network delivery, not a retried 504', async () => {
    const api = new HttpSession({ cache: { store: 'memory' } })
    sessions.push(api)
    const url = origin.serve({ body: 'first', cacheControl: 'max-age=60' })
    const all: HttpResponse[] = []
    for await (const r of api.get(url, { cachePolicy: 'cache-then-network', responseType: 'text' }).updates())
      all.push(r)
    assert.deepEqual(
      all.map((r) => [r.data, r.fromCache, r.attempts]),
      [['first', false, 1]],
    )
    assert.equal(origin.count(url), 1)
  })
})
