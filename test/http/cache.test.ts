// HttpCache under the `http` policy against a real local origin: RFC 9111 as undici's interceptor implements it for a
// private cache (max-age, no-store, no-cache, ETag and Last-Modified revalidation, Vary, private, Authorization), plus
// what wirekit adds: a 304 refreshes the stored entry, and every delivery says whether it came from the cache.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { request } from 'undici'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { HttpCache } from '../../src/http/cache/index.ts'
import { fetchOnce, useMemoryCache } from './cache-origin.ts'

const rig = useMemoryCache()

const get = (url: string, headers?: Record<string, string>) =>
  fetchOnce(rig.cache, rig.dispatcher, url, 'http', headers)

describe('http policy (RFC 9111)', () => {
  test('a max-age response is served from the cache while fresh, without contacting the origin', async () => {
    const url = rig.origin.serve({ body: 'hello', cacheControl: 'max-age=60' })
    const first = await get(url)
    const second = await get(url)
    assert.deepEqual([first.body, first.fromCache], ['hello', false])
    assert.deepEqual([second.body, second.fromCache], ['hello', true])
    assert.ok(Number(second.headers.age) >= 0, 'a cached delivery carries Age')
    assert.equal(rig.origin.count(url), 1)
  })

  test('a stale entry is revalidated with If-None-Match and the 304 refreshes it', async () => {
    const resource = { body: 'v1', etag: '"v1"', cacheControl: 'max-age=0' }
    const url = rig.origin.serve(resource)
    await get(url)
    resource.cacheControl = 'max-age=60' // the 304 brings a new freshness lifetime
    const revalidated = await get(url)
    assert.equal(rig.origin.last(url)?.headers['if-none-match'], '"v1"')
    assert.deepEqual([revalidated.status, revalidated.body], [200, 'v1'])
    assert.deepEqual([revalidated.fromCache, revalidated.notModified], [true, true])
    assert.equal(
      revalidated.headers['cache-control'],
      'max-age=60',
      'delivered with the 304 headers merged in',
    )
    const afterRefresh = await get(url)
    assert.deepEqual(
      [afterRefresh.body, afterRefresh.fromCache, afterRefresh.notModified],
      ['v1', true, undefined],
    )
    assert.equal(rig.origin.count(url), 2, 'the refreshed entry is fresh: no third request')
  })

  test('a Last-Modified entry is revalidated with If-Modified-Since', async () => {
    const lastModified = new Date(Date.now() - 3_600_000).toUTCString()
    const url = rig.origin.serve({ body: 'dated', lastModified, cacheControl: 'max-age=0' })
    await get(url)
    const revalidated = await get(url)
    assert.equal(rig.origin.last(url)?.headers['if-modified-since'], lastModified)
    assert.deepEqual(
      [revalidated.body, revalidated.fromCache, revalidated.notModified],
      ['dated', true, true],
    )
    assert.equal(rig.origin.count(url), 2)
  })

  test('a changed resource answers the revalidation with 200 and replaces the entry', async () => {
    const resource = { body: 'v1', etag: '"v1"', cacheControl: 'max-age=0' }
    const url = rig.origin.serve(resource)
    await get(url)
    Object.assign(resource, { body: 'v2', etag: '"v2"', cacheControl: 'max-age=60' })
    const changed = await get(url)
    assert.deepEqual([changed.body, changed.fromCache, changed.notModified], ['v2', false, undefined])
    const cached = await get(url)
    assert.deepEqual([cached.body, cached.fromCache], ['v2', true])
    assert.equal(rig.origin.count(url), 2)
  })

  test('a no-store response is never stored', async () => {
    const url = rig.origin.serve({ body: 'secret', cacheControl: 'no-store' })
    const first = await get(url)
    const second = await get(url)
    assert.deepEqual([first.fromCache, second.fromCache], [false, false])
    assert.equal(rig.origin.count(url), 2)
  })

  test('a no-cache response is stored but revalidated before every use', async () => {
    const url = rig.origin.serve({ body: 'checked', etag: '"c"', cacheControl: 'no-cache' })
    await get(url)
    const second = await get(url)
    const third = await get(url)
    assert.deepEqual([second.notModified, third.notModified], [true, true])
    assert.equal(rig.origin.count(url), 3)
  })

  test('Vary keeps one entry per value of the varying request header', async () => {
    const url = rig.origin.serve({ body: 'greeting', cacheControl: 'max-age=60', vary: 'Accept-Language' })
    const en = await get(url, { 'accept-language': 'en' })
    const fr = await get(url, { 'accept-language': 'fr' })
    const enAgain = await get(url, { 'accept-language': 'en' })
    const frAgain = await get(url, { 'accept-language': 'fr' })
    assert.deepEqual(
      [en, fr, enAgain, frAgain].map((r) => [r.body, r.fromCache]),
      [
        ['greeting:en', false],
        ['greeting:fr', false],
        ['greeting:en', true],
        ['greeting:fr', true],
      ],
    )
    assert.equal(rig.origin.count(url), 2)
  })

  test('a Cache-Control: private response is stored (the cache is private)', async () => {
    const url = rig.origin.serve({ body: 'mine', cacheControl: 'private, max-age=60' })
    await get(url)
    const second = await get(url)
    assert.equal(second.fromCache, true)
    assert.equal(rig.origin.count(url), 1)
  })

  test('responses to Authorization requests are stored per credential, and the credential reaches the origin', async () => {
    const url = rig.origin.serve({ body: 'profile', cacheControl: 'private, max-age=60' })
    const alice = { authorization: 'Bearer alice' }
    await get(url, alice)
    assert.equal(rig.origin.last(url)?.headers.authorization, 'Bearer alice')
    const aliceAgain = await get(url, alice)
    assert.equal(aliceAgain.fromCache, true)
    assert.equal(aliceAgain.headers.vary, undefined, 'the private credential key never shows in Vary')
    const bob = await get(url, { authorization: 'Bearer bob' })
    const anonymous = await get(url)
    assert.deepEqual([bob.fromCache, anonymous.fromCache], [false, false])
    assert.equal(rig.origin.last(url)?.headers.authorization, undefined)
    assert.equal(rig.origin.count(url), 3)
    for (const request of rig.origin.seen) assert.equal(request.headers['x-wirekit-credential'], undefined)
  })

  test('the private trace header never reaches the origin', async () => {
    const url = rig.origin.serve({ body: 'x', cacheControl: 'max-age=60' })
    await get(url)
    assert.equal(rig.origin.last(url)?.headers['x-wirekit-cache-trace'], undefined)
  })

  test('a successful POST invalidates the stored response of its URL', async () => {
    const url = rig.origin.serve({ body: 'list', cacheControl: 'max-age=60' })
    await get(url)
    const post = await request(url, { dispatcher: rig.dispatcher, method: 'POST', body: 'x' })
    await post.body.dump()
    const after = await get(url)
    assert.equal(after.fromCache, false)
  })

  test('an only-if-cached miss rejects with WK_HTTP_NOT_CACHED', async () => {
    const url = rig.origin.serve({ body: 'never fetched', cacheControl: 'max-age=60' })
    await assert.rejects(get(url, { 'cache-control': 'only-if-cached' }), (error: unknown) => {
      return isWirekitError(error, ErrorCodes.HTTP_NOT_CACHED)
    })
    assert.equal(rig.origin.count(url), 0)
  })
})

describe('HttpCache options', () => {
  test('an unknown policy or a bad maxEntries throws WK_INVALID_ARGUMENT at once', () => {
    const invalid = (error: unknown) => isWirekitError(error, ErrorCodes.INVALID_ARGUMENT)
    assert.throws(() => new HttpCache({ policy: 'sometimes' as never }), invalid)
    assert.throws(() => new HttpCache({ maxEntries: 0 }), invalid)
    assert.throws(() => new HttpCache({ store: 'disk' as never }), invalid)
    assert.throws(
      () =>
        rig.cache.run('nope' as never, 'GET', async () => ({ status: 200, headers: {}, fromCache: false })),
      invalid,
    )
  })

  test('a path without a store opens SQLite; no path opens memory', async () => {
    const memory = new HttpCache({})
    const sqlite = new HttpCache({ path: ':memory:' })
    assert.deepEqual([memory.storeKind, sqlite.storeKind], ['memory', 'sqlite'])
    await Promise.all([memory.close(), sqlite.close()])
  })

  test('run() after close() throws WK_CLOSED', async () => {
    const closed = new HttpCache({})
    await closed.close()
    assert.throws(
      () => closed.run('http', 'GET', async () => ({ status: 200, headers: {}, fromCache: false })),
      (error: unknown) => isWirekitError(error, ErrorCodes.CLOSED),
    )
  })
})
