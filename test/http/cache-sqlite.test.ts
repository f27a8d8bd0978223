// The SQLite store (undici's SqliteCacheStore on node:sqlite): a cache filled by one process is read by the next,
// and RFC behaviour (304 refresh, Vary) holds on it as it does in memory.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { Agent } from 'undici'
import { HttpCache } from '../../src/http/cache/index.ts'
import { fetchOnce, type Origin, startOrigin } from './cache-origin.ts'

const run = promisify(execFile)
let origin: Origin
let dir: string

before(async () => {
  origin = await startOrigin()
  dir = await mkdtemp(join(tmpdir(), 'wirekit-cache-'))
})
after(async () => {
  await origin.close()
  await rm(dir, { recursive: true, force: true })
})

/** A separate Node process that fetches `url` once through a SQLite cache at `path`, then exits. */
async function fillInAnotherProcess(
  path: string,
  url: string,
): Promise<{ body: string; fromCache: boolean }> {
  const cacheModule = import.meta.resolve('../../src/http/cache/index.ts')
  const helpers = import.meta.resolve('./cache-origin.ts')
  const script = `
    import { Agent } from 'undici'
    import { HttpCache } from ${JSON.stringify(cacheModule)}
    import { fetchOnce } from ${JSON.stringify(helpers)}
    const cache = new HttpCache({ store: 'sqlite', path: ${JSON.stringify(path)} })
    const agent = new Agent()
    const res = await fetchOnce(cache, agent.compose(cache.interceptor), ${JSON.stringify(url)})
    await agent.close()
    await cache.close()
    process.stdout.write(JSON.stringify({ body: res.body, fromCache: res.fromCache }))
  `
  const { stdout } = await run(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
    cwd: process.cwd(),
    timeout: 20_000,
  })
  return JSON.parse(stdout)
}

async function withSqlite<T>(path: string, fn: (cache: HttpCache, agent: Agent) => Promise<T>): Promise<T> {
  const cache = new HttpCache({ store: 'sqlite', path })
  const agent = new Agent()
  try {
    return await fn(cache, agent)
  } finally {
    await agent.close()
    await cache.close()
  }
}

describe('SQLite store', () => {
  test('a response cached by one process is served from the cache after a restart', async () => {
    const path = join(dir, 'restart.sqlite')
    const url = origin.serve({ body: 'persisted', etag: '"p"', cacheControl: 'max-age=300' })
    const filled = await fillInAnotherProcess(path, url)
    assert.deepEqual(filled, { body: 'persisted', fromCache: false })
    const read = await withSqlite(path, (cache, agent) =>
      fetchOnce(cache, agent.compose(cache.interceptor), url),
    )
    assert.deepEqual([read.body, read.fromCache], ['persisted', true])
    assert.equal(origin.count(url), 1, 'only the first process contacted the origin')
  })

  test('a 304 refreshes an entry stored in SQLite', async () => {
    const path = join(dir, 'refresh.sqlite')
    const resource = { body: 'v1', etag: '"v1"', cacheControl: 'max-age=0' }
    const url = origin.serve(resource)
    await withSqlite(path, async (cache, agent) => {
      const dispatcher = agent.compose(cache.interceptor)
      await fetchOnce(cache, dispatcher, url)
      resource.cacheControl = 'max-age=60'
      const revalidated = await fetchOnce(cache, dispatcher, url)
      assert.deepEqual([revalidated.body, revalidated.notModified], ['v1', true])
      const fresh = await fetchOnce(cache, dispatcher, url)
      assert.deepEqual([fresh.body, fresh.fromCache], ['v1', true])
    })
    assert.equal(origin.count(url), 2)
  })

  test('Vary entries are kept apart in SQLite', async () => {
    const path = join(dir, 'vary.sqlite')
    const url = origin.serve({ body: 'hi', cacheControl: 'max-age=60', vary: 'Accept-Language' })
    const bodies = await withSqlite(path, async (cache, agent) => {
      const dispatcher = agent.compose(cache.interceptor)
      const out: string[] = []
      for (const lang of ['en', 'de', 'en', 'de']) {
        const res = await fetchOnce(cache, dispatcher, url, 'http', { 'accept-language': lang })
        out.push(`${res.body}/${res.fromCache}`)
      }
      return out
    })
    assert.deepEqual(bodies, ['hi:en/false', 'hi:de/false', 'hi:en/true', 'hi:de/true'])
  })

  test('cache-first serves a persisted entry with the origin gone', async () => {
    const path = join(dir, 'offline.sqlite')
    const gone = await startOrigin()
    const url = gone.serve({ body: 'offline copy', etag: '"o"', cacheControl: 'max-age=0' })
    await fillInAnotherProcess(path, url)
    await gone.close()
    const read = await withSqlite(path, (cache, agent) =>
      fetchOnce(cache, agent.compose(cache.interceptor), url, 'cache-first'),
    )
    assert.deepEqual([read.body, read.fromCache], ['offline copy', true])
  })
})
