// Child process of cache-suite.test.ts: runs the HTTP cache test suite (npm http-cache-tests, the cache-tests.fyi
// suite) as a private/browser cache against its server at argv[3], through one client named by argv[2], and prints
// the results as JSON. One process per client, because the suite's runner keeps its results in module state.
//   wirekit-memory | wirekit-sqlite : HttpSession with that cache store, through a small fetch-shaped adapter
//   undici                          : undici.request on an Agent composed with undici's cache interceptor alone
import { Agent, cacheStores, type Dispatcher, interceptors, request } from 'undici'
import { type CachePolicy, type HttpResponse, HttpSession } from '../../src/http/index.ts'

type Init = {
  method?: string
  headers?: Array<[string, string]>
  body?: string
  cache?: string
  redirect?: string
}
type FetchLike = { status: number; statusText: string; headers: Headers; text(): Promise<string> }

// argv[4], optional: a comma-separated list of test ids to run (the parent reruns failures with it).
const [client, base, only] = process.argv.slice(2)
const suite = 'http-cache-tests'
const { runTests, getResults } = await import(`${suite}/client/runner.mjs`)
const { default: tests } = await import(`${suite}/tests/index.mjs`)

/** The suite's own bookkeeping (test configuration, server state) never goes through the cache under test. */
function isSuiteControl(url: string): boolean {
  return !new URL(url).pathname.startsWith('/test/')
}

function shape(status: number, statusText: string, pairs: Array<[string, string]>, body: string): FetchLike {
  const headers = new Headers()
  for (const [name, value] of pairs) headers.append(name, value)
  return { status, statusText, headers, text: async () => body }
}

// fetch's cache modes as HttpSession cache policies.
const POLICY: Record<string, CachePolicy> = {
  'no-cache': 'network-first',
  reload: 'network-only',
  'force-cache': 'cache-first',
}

function wirekitFetch(store: 'memory' | 'sqlite'): (url: string, init: Init) => Promise<FetchLike> {
  const session = new HttpSession({
    cache: { store },
    retry: false,
    acceptableStatusCodes: () => true,
    timeout: 20_000,
  })
  return async (url, init = {}) => {
    if (isSuiteControl(url)) return plainFetch(url, init)
    let res: HttpResponse<string | undefined>
    try {
      res = await session.request<string | undefined>(init.method ?? 'GET', url, {
        headers: init.headers ?? [],
        body: init.body,
        responseType: 'text',
        maxRedirects: init.redirect === 'manual' ? 0 : undefined,
        cachePolicy: init.cache === undefined ? undefined : POLICY[init.cache],
      })
    } catch (error) {
      // HttpSession reports an only-if-cached miss as a typed error; fetch's shape for it is a 504.
      if ((error as { code?: string }).code === 'WK_HTTP_NOT_CACHED')
        return shape(504, 'Gateway Timeout', [], '')
      throw error
    }
    const pairs = Object.entries(res.headers).filter(([name]) => name !== 'set-cookie')
    for (const cookie of res.setCookie) pairs.push(['set-cookie', cookie])
    return shape(res.status, res.statusText, pairs, res.data ?? '')
  }
}

function undiciFetch(): (url: string, init: Init) => Promise<FetchLike> {
  const store = new cacheStores.MemoryCacheStore()
  const dispatcher: Dispatcher = new Agent().compose(
    interceptors.cache({ store, type: 'private', methods: ['GET', 'HEAD'] }),
  )
  return async (url, init = {}) => {
    if (isSuiteControl(url)) return plainFetch(url, init)
    const headers: Record<string, string> = {}
    for (const [name, value] of init.headers ?? []) {
      const key = name.toLowerCase()
      headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`
    }
    if (init.cache === 'no-cache') headers['cache-control'] = 'no-cache'
    const res = await request(url, {
      dispatcher,
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      body: init.body,
    })
    const pairs: Array<[string, string]> = []
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue
      for (const item of Array.isArray(value) ? value : [value]) pairs.push([name, item])
    }
    return shape(res.statusCode, '', pairs, await res.body.text())
  }
}

async function plainFetch(url: string, init: Init): Promise<FetchLike> {
  const res = await fetch(url, { method: init.method, headers: init.headers, body: init.body })
  return shape(res.status, res.statusText, [...res.headers], await res.text())
}

const chosen =
  client === 'undici'
    ? undiciFetch()
    : client === 'wirekit-sqlite'
      ? wirekitFetch('sqlite')
      : wirekitFetch('memory')
const wanted = only ? new Set(only.split(',')) : undefined
const chosenTests = wanted
  ? tests
      .map((set: { tests: Array<{ id: string }> }) => ({
        ...set,
        tests: set.tests.filter((t) => wanted.has(t.id)),
      }))
      .filter((set: { tests: unknown[] }) => set.tests.length > 0)
  : tests
await runTests(chosenTests, chosen, true, base.replace(/\/$/, ''))
process.stdout.write(JSON.stringify(getResults()))
process.exit(0)
