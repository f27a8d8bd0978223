// The non-default cache policies against a real local origin, through an undici Agent composed with the cache
// interceptor: what each delivers, in what order, marked how, and how many requests the origin sees.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ErrorCodes, isWirekitError } from '../../src/errors.ts'
import { deliveries, fetchOnce, type SendLog, sender, startOrigin, useMemoryCache } from './cache-origin.ts'

const rig = useMemoryCache()

/** Stores `url` in the cache with one plain request. */
async function warm(url: string): Promise<void> {
  await fetchOnce(rig.cache, rig.dispatcher, url, 'http')
}

describe('network-only', () => {
  test('goes to the origin with no validators even when a fresh entry exists, and stores the answer', async () => {
    const resource = { body: 'v1', etag: '"v1"', cacheControl: 'max-age=60' }
    const url = rig.origin.serve(resource)
    await warm(url)
    Object.assign(resource, { body: 'v2', etag: '"v2"' })
    const fresh = await fetchOnce(rig.cache, rig.dispatcher, url, 'network-only')
    assert.deepEqual([fresh.body, fresh.fromCache], ['v2', false])
    assert.equal(rig.origin.last(url)?.headers['if-none-match'], undefined)
    const cached = await fetchOnce(rig.cache, rig.dispatcher, url, 'http')
    assert.deepEqual([cached.body, cached.fromCache], ['v2', true])
    assert.equal(rig.origin.count(url), 2)
  })
})

describe('cache-first', () => {
  test('delivers a stale entry without contacting the origin', async () => {
    const url = rig.origin.serve({ body: 'old', etag: '"o"', cacheControl: 'max-age=0' })
    await warm(url)
    const res = await fetchOnce(rig.cache, rig.dispatcher, url, 'cache-first')
    assert.deepEqual([res.body, res.fromCache], ['old', true])
    assert.equal(rig.origin.count(url), 1)
  })

  test('goes to the network on a miss', async () => {
    const url = rig.origin.serve({ body: 'new', cacheControl: 'max-age=60' })
    const res = await fetchOnce(rig.cache, rig.dispatcher, url, 'cache-first')
    assert.deepEqual([res.body, res.fromCache], ['new', false])
    assert.equal(rig.origin.count(url), 1)
  })
})

describe('network-first', () => {
  test('asks the origin even when a fresh entry exists', async () => {
    const resource = { body: 'v1', etag: '"v1"', cacheControl: 'max-age=60' }
    const url = rig.origin.serve(resource)
    await warm(url)
    Object.assign(resource, { body: 'v2', etag: '"v2"' })
    const res = await fetchOnce(rig.cache, rig.dispatcher, url, 'network-first')
    assert.deepEqual([res.body, res.fromCache], ['v2', false])
    assert.equal(rig.origin.count(url), 2)
  })

  test('falls back to the stored response when the origin is down, and fails without one', async () => {
    const offline = await startOrigin()
    const url = offline.serve({ body: 'saved', cacheControl: 'max-age=0', etag: '"s"' })
    const missing = offline.serve({ body: 'never fetched', cacheControl: 'max-age=60' })
    await warm(url)
    await offline.close()
    const res = await fetchOnce(rig.cache, rig.dispatcher, url, 'network-first')
    assert.deepEqual([res.body, res.fromCache], ['saved', true])
    await assert.rejects(
      fetchOnce(rig.cache, rig.dispatcher, missing, 'network-first'),
      (error: Error & { code?: string }) => {
        assert.notEqual(
          error.code,
          ErrorCodes.HTTP_NOT_CACHED,
          'the network error, not the cache miss, is reported',
        )
        assert.equal(error.code, 'ECONNREFUSED')
        return true
      },
    )
  })
})

describe('stale-while-revalidate', () => {
  test('delivers the stale entry at once and refreshes it in the background', async () => {
    const resource = { body: 'v1', etag: '"v1"', cacheControl: 'max-age=0' }
    const url = rig.origin.serve(resource)
    await warm(url)
    Object.assign(resource, { body: 'v2', etag: '"v2"', cacheControl: 'max-age=60' })
    const stale = await fetchOnce(rig.cache, rig.dispatcher, url, 'stale-while-revalidate')
    assert.deepEqual([stale.body, stale.fromCache], ['v1', true])
    await rig.cache.idle()
    assert.equal(rig.origin.count(url), 2, 'one background request')
    assert.equal(rig.origin.last(url)?.headers['if-none-match'], '"v1"')
    const refreshed = await fetchOnce(rig.cache, rig.dispatcher, url, 'http')
    assert.deepEqual([refreshed.body, refreshed.fromCache], ['v2', true])
    assert.equal(rig.origin.count(url), 2)
  })

  test('the stale entry is delivered before the background request is answered', async () => {
    const resource = { body: 'v1', etag: '"v1"', cacheControl: 'max-age=0', delay: 0 }
    const url = rig.origin.serve(resource)
    await warm(url)
    Object.assign(resource, { body: 'v2', etag: '"v2"', delay: 400 })
    const stale = await fetchOnce(rig.cache, rig.dispatcher, url, 'stale-while-revalidate')
    assert.deepEqual([stale.body, rig.origin.answered(url)], ['v1', 1])
    await rig.cache.idle()
    assert.equal(rig.origin.answered(url), 2)
  })

  test('a fresh entry is delivered without any request to the origin', async () => {
    const url = rig.origin.serve({ body: 'fresh', cacheControl: 'max-age=60' })
    await warm(url)
    const res = await fetchOnce(rig.cache, rig.dispatcher, url, 'stale-while-revalidate')
    await rig.cache.idle()
    assert.deepEqual([res.body, res.fromCache], ['fresh', true])
    assert.equal(rig.origin.count(url), 1)
  })

  test('a miss is fetched from the network and delivered once', async () => {
    const url = rig.origin.serve({ body: 'first', cacheControl: 'max-age=60' })
    const res = await fetchOnce(rig.cache, rig.dispatcher, url, 'stale-while-revalidate')
    await rig.cache.idle()
    assert.deepEqual([res.body, res.fromCache], ['first', false])
    assert.equal(rig.origin.count(url), 1)
  })
})

describe('cache-then-network', () => {
  test('delivers the cached response at once, then the changed fresh one', async () => {
    const resource = { body: 'v1', etag: '"v1"', cacheControl: 'max-age=60' }
    const url = rig.origin.serve(resource)
    await warm(url)
    Object.assign(resource, { body: 'v2', etag: '"v2"' })
    const [cached, fresh, ...rest] = await deliveries(rig.cache, rig.dispatcher, url, 'cache-then-network')
    assert.equal(rest.length, 0)
    assert.deepEqual([cached?.body, cached?.fromCache, cached?.notModified], ['v1', true, undefined])
    assert.deepEqual([fresh?.body, fresh?.fromCache, fresh?.notModified], ['v2', false, undefined])
    assert.equal(rig.origin.count(url), 2)
  })

  test('the cached response is delivered before the origin has answered', async () => {
    const resource = { body: 'v1', etag: '"v1"', cacheControl: 'max-age=60', delay: 0 }
    const url = rig.origin.serve(resource)
    await warm(url)
    Object.assign(resource, { body: 'v2', etag: '"v2"', delay: 400 })
    const answeredAtEachDelivery: number[] = []
    for await (const r of rig.cache.run('cache-then-network', 'GET', sender(rig.dispatcher, url))) {
      answeredAtEachDelivery.push(rig.origin.answered(url))
      assert.equal(r.body, answeredAtEachDelivery.length === 1 ? 'v1' : 'v2')
    }
    assert.deepEqual(answeredAtEachDelivery, [1, 2])
  })

  test('a 304 is delivered as a notModified copy of the cached response, with no second body read', async () => {
    const url = rig.origin.serve({ body: 'same', etag: '"s"', cacheControl: 'max-age=60' })
    await warm(url)
    const log: SendLog = []
    const [cached, confirmed, ...rest] = await deliveries(
      rig.cache,
      rig.dispatcher,
      url,
      'cache-then-network',
      {},
      log,
    )
    assert.equal(rest.length, 0)
    assert.deepEqual([cached?.body, cached?.fromCache, cached?.notModified], ['same', true, undefined])
    assert.deepEqual([confirmed?.body, confirmed?.fromCache, confirmed?.notModified], ['same', true, true])
    assert.notEqual(confirmed, cached, 'a new delivery object, the first one is left as it was')
    assert.equal(rig.origin.last(url)?.headers['if-none-match'], '"s"')
    assert.deepEqual(
      log.map((l) => [l.status, l.bodyBytes]),
      [
        [200, 4],
        [304, 0],
      ],
    )
  })

  test('a 200 with the same ETag (origin ignoring validators) also counts as not modified', async () => {
    const url = rig.origin.serve({
      body: 'same',
      etag: '"s"',
      cacheControl: 'max-age=60',
      conditional: false,
    })
    await warm(url)
    const log: SendLog = []
    const [, confirmed] = await deliveries(rig.cache, rig.dispatcher, url, 'cache-then-network', {}, log)
    assert.equal(confirmed?.notModified, true)
    assert.equal(log[1]?.bodyBytes, 0)
  })

  test('a miss delivers once, from the network', async () => {
    const url = rig.origin.serve({ body: 'only', cacheControl: 'max-age=60' })
    const all = await deliveries(rig.cache, rig.dispatcher, url, 'cache-then-network')
    assert.deepEqual(
      all.map((r) => [r.body, r.fromCache]),
      [['only', false]],
    )
  })

  test('when the origin is down after the cached delivery, the iteration ends with the network error', async () => {
    const offline = await startOrigin()
    const url = offline.serve({ body: 'kept', cacheControl: 'max-age=60' })
    await warm(url)
    await offline.close()
    const seen: string[] = []
    await assert.rejects(
      async () => {
        for await (const r of rig.cache.run('cache-then-network', 'GET', sender(rig.dispatcher, url))) {
          seen.push(r.body)
        }
      },
      (error: Error & { code?: string }) =>
        error.code === 'ECONNREFUSED' && !isWirekitError(error, ErrorCodes.HTTP_NOT_CACHED),
    )
    assert.deepEqual(seen, ['kept'])
  })
})
