// Fresh cache hits are served from the store before anything is dispatched: the response is settled by the time
// `api.get()` returns, with no undici round trip, for the memory and SQLite stores; what the fast path cannot decide
// (a stale entry, request directives, another credential) still goes to the origin.
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { HttpSession } from '../../src/http/session.ts'
import { type Origin, startOrigin } from './cache-origin.ts'

let origin: Origin
let dir: string
const sessions: HttpSession[] = []

before(async () => {
  origin = await startOrigin()
  dir = await mkdtemp(join(tmpdir(), 'wirekit-fast-hit-'))
})
after(async () => {
  for (const s of sessions) await s.close()
  await origin.close()
  await rm(dir, { recursive: true, force: true })
})

const PENDING = Symbol('pending')
/** What the promise holds at this instant: its value when already settled, else PENDING (one microtask later). */
async function settledNow<T>(promise: Promise<T>): Promise<T | typeof PENDING> {
  let state: T | typeof PENDING = PENDING
  promise.then(
    (value) => {
      state = value
    },
    () => {},
  )
  await null
  return state
}

for (const store of ['memory', 'sqlite'] as const) {
  describe(`fast hits, ${store} store`, () => {
    function session(): HttpSession {
      const cache = store === 'memory' ? { store } : { store, path: join(dir, `${Math.random()}.sqlite`) }
      const api = new HttpSession({ retry: false, cache })
      sessions.push(api)
      return api
    }

    test('a fresh hit is settled when get() returns, and undici dispatches nothing for it', async () => {
      const api = session()
      const url = origin.serve({ body: '{"n":1}', cacheControl: 'max-age=60' })
      await api.get(url, { responseType: 'json' })
      const created: unknown[] = []
      const onCreate = (message: unknown) => created.push(message)
      subscribe('undici:request:create', onCreate)
      try {
        const hit = await settledNow(api.get(url, { responseType: 'json' }))
        assert.notEqual(hit, PENDING, 'the hit was settled synchronously')
        if (hit === PENDING) return
        assert.deepEqual([hit.data, hit.fromCache, hit.status], [{ n: 1 }, true, 200])
        assert.match(hit.headers.age, /^\d+$/, 'a cache adds Age')
      } finally {
        unsubscribe('undici:request:create', onCreate)
      }
      assert.equal(created.length, 0)
      assert.equal(origin.count(url), 1)
    })

    test('cache-then-network delivers the stored response at once, then the origin answer', async () => {
      const api = session()
      const url = origin.serve({ body: 'v1', cacheControl: 'max-age=60' })
      await api.get(url, { responseType: 'text' })
      const pending = api.get(url, { responseType: 'text', cachePolicy: 'cache-then-network' })
      const first = await settledNow(pending)
      assert.notEqual(first, PENDING)
      const deliveries = []
      for await (const r of pending.updates()) deliveries.push([r.data, r.fromCache])
      assert.deepEqual(deliveries, [
        ['v1', true],
        ['v1', false],
      ])
      assert.equal(origin.count(url), 2)
    })

    test('a stale entry and a request with Cache-Control are not answered by the fast path', async () => {
      const api = session()
      const stale = origin.serve({ body: 's', cacheControl: 'max-age=0', etag: '"s"' })
      await api.get(stale, { responseType: 'text' })
      assert.equal(await settledNow(api.get(stale, { responseType: 'text' })), PENDING)
      const fresh = origin.serve({ body: 'f', cacheControl: 'max-age=60' })
      await api.get(fresh, { responseType: 'text' })
      const asked = api.get(fresh, { responseType: 'text', headers: { 'cache-control': 'no-cache' } })
      assert.equal(await settledNow(asked), PENDING)
      await asked
      assert.equal(origin.count(fresh), 2)
    })

    test('a hit stored for one Authorization is not served to another credential', async () => {
      const api = session()
      const url = origin.serve({ body: 'mine', cacheControl: 'private, max-age=60' })
      await api.get(url, { responseType: 'text', headers: { authorization: 'Bearer a' } })
      const same = await settledNow(
        api.get(url, { responseType: 'text', headers: { authorization: 'Bearer a' } }),
      )
      assert.notEqual(same, PENDING)
      const other = api.get(url, { responseType: 'text', headers: { authorization: 'Bearer b' } })
      assert.equal(await settledNow(other), PENDING)
      assert.equal((await other).fromCache, false)
      assert.equal(origin.count(url), 2)
    })
  })
}
