// Test helpers of the cache tests: a local origin that serves resources with validators and cache headers, answers
// conditional requests and records every request; and the `send` a session would hand to HttpCache.run().
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, beforeEach } from 'node:test'
import { Agent, type Dispatcher, request } from 'undici'
import { type CachePolicy, HttpCache, type TraceOption } from '../../src/http/cache/index.ts'

export type Resource = {
  body: string
  etag?: string
  lastModified?: string
  cacheControl?: string
  /** A request header the response varies on; the body then ends with `:<its value>`. */
  vary?: string
  /** Answer matching conditionals with 304. @default true */
  conditional?: boolean
  /** Hold every answer this long, in ms. @default 0 */
  delay?: number
}

export type Origin = Awaited<ReturnType<typeof startOrigin>>

let paths = 0

/** An origin on 127.0.0.1 port 0. `serve(resource)` publishes a resource at a fresh path and returns its URL. */
export async function startOrigin() {
  const resources = new Map<string, Resource>()
  const seen: Array<{ path: string; headers: http.IncomingHttpHeaders }> = []
  const answered: string[] = []
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/'
    seen.push({ path, headers: req.headers })
    const resource = resources.get(path)
    if (!resource) return void res.writeHead(404).end()
    if (resource.delay) return void setTimeout(() => answer(req, res, path, resource), resource.delay)
    answer(req, res, path, resource)
  })
  function answer(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    resource: Resource,
  ): void {
    answered.push(path)
    const headers: Record<string, string> = { 'content-type': 'text/plain' }
    if (resource.etag) headers.etag = resource.etag
    if (resource.lastModified) headers['last-modified'] = resource.lastModified
    if (resource.cacheControl) headers['cache-control'] = resource.cacheControl
    if (resource.vary) headers.vary = resource.vary
    const inm = req.headers['if-none-match']
    const ims = req.headers['if-modified-since']
    const notModified =
      resource.conditional !== false &&
      (inm !== undefined
        ? inm === resource.etag
        : ims !== undefined &&
          resource.lastModified !== undefined &&
          Date.parse(ims) >= Date.parse(resource.lastModified))
    if (notModified) {
      res.writeHead(304, headers).end()
      return
    }
    res.writeHead(200, headers)
    const varied = resource.vary ? `:${String(req.headers[resource.vary.toLowerCase()])}` : ''
    res.end(resource.body + varied)
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    base,
    seen,
    serve(resource: Resource): string {
      const path = `/r${++paths}`
      resources.set(path, resource)
      return base + path
    },
    /** Requests the origin received for `url`. */
    count: (url: string) => seen.filter((s) => base + s.path === url).length,
    /** Responses the origin has sent for `url`. */
    answered: (url: string) => answered.filter((path) => base + path === url).length,
    last: (url: string) => seen.findLast((s) => base + s.path === url),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export type Res = {
  status: number
  headers: Record<string, string>
  fromCache: boolean
  notModified?: boolean
  body: string
}

/** Per `send`: the status the dispatcher answered and the body bytes the caller had to read. */
export type SendLog = Array<{ status: number; bodyBytes: number }>

/** The `send` a session would give run(): one request through the composed dispatcher, body read as text. */
export function sender(
  dispatcher: Dispatcher,
  url: string,
  headers: Record<string, string> = {},
  log?: SendLog,
) {
  return async (extra: Record<string, string>, dispatch: TraceOption): Promise<Res> => {
    const res = await request(url, { dispatcher, headers: { ...headers, ...extra }, ...dispatch })
    const body = await res.body.text()
    log?.push({ status: res.statusCode, bodyBytes: Buffer.byteLength(body) })
    const flat: Record<string, string> = {}
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v
    return { status: res.statusCode, headers: flat, fromCache: false, body }
  }
}

/** Every delivery of one run, in order. */
export async function deliveries(
  cache: HttpCache,
  dispatcher: Dispatcher,
  url: string,
  policy: CachePolicy = 'http',
  headers?: Record<string, string>,
  log?: SendLog,
): Promise<Res[]> {
  const out: Res[] = []
  for await (const r of cache.run(policy, 'GET', sender(dispatcher, url, headers, log))) out.push(r)
  return out
}

/** The single delivery of a one-shot policy. */
export async function fetchOnce(
  cache: HttpCache,
  dispatcher: Dispatcher,
  url: string,
  policy: CachePolicy = 'http',
  headers?: Record<string, string>,
): Promise<Res> {
  const all = await deliveries(cache, dispatcher, url, policy, headers)
  if (all.length !== 1) throw new Error(`expected one delivery, got ${all.length}`)
  return all[0]!
}

/**
 * One origin for the file and a fresh memory HttpCache + undici Agent composed with its interceptor for
 * every test (registered as node:test hooks). Read the fields inside tests.
 */
export function useMemoryCache(): {
  readonly origin: Origin
  readonly cache: HttpCache
  readonly dispatcher: Dispatcher
} {
  let origin: Origin | undefined
  let cache: HttpCache | undefined
  let agent: Agent | undefined
  let dispatcher: Dispatcher | undefined
  before(async () => {
    origin = await startOrigin()
  })
  beforeEach(async () => {
    await agent?.close()
    await cache?.close()
    cache = new HttpCache({ store: 'memory' })
    agent = new Agent()
    dispatcher = agent.compose(cache.interceptor)
  })
  after(async () => {
    await agent?.close()
    await cache?.close()
    await origin?.close()
  })
  return {
    get origin() {
      return origin!
    },
    get cache() {
      return cache!
    },
    get dispatcher() {
      return dispatcher!
    },
  }
}
