// Benchmark: a GET answered from the cache (memory, SQLite) vs the same GET over the network (keep-alive, loopback),
// all in one run. Also undici's bare cache interceptor, to show what wirekit's layers (tracing, policies) cost.
// Run: node bench/http-cache.ts [--quick]

import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, cacheStores, type Dispatcher, interceptors, request } from 'undici'
import { HttpCache } from '../src/http/cache/index.ts'

const quick = process.argv.includes('--quick')
const iterations = quick ? 2_000 : 20_000
const warmup = quick ? 200 : 2_000
const body = JSON.stringify({ id: 1, name: 'wirekit', tags: ['a', 'b', 'c'], text: 'x'.repeat(512) })

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600', etag: '"b1"' })
  res.end(body)
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/item`
const dir = await mkdtemp(join(tmpdir(), 'wirekit-bench-cache-'))

type Case = { name: string; once: () => Promise<unknown>; close: () => Promise<void> }

async function fetchText(dispatcher: Dispatcher, extra: Record<string, string>) {
  const res = await request(url, { dispatcher, headers: extra })
  const text = await res.body.text()
  return { status: res.statusCode, headers: {} as Record<string, string>, fromCache: false, text }
}

function networkCase(): Case {
  const agent = new Agent({ connections: 1 })
  return {
    name: 'network (undici.request, keep-alive)',
    once: () => fetchText(agent, {}),
    close: () => agent.close(),
  }
}

function bareUndiciCase(): Case {
  const agent = new Agent({ connections: 1 })
  const store = new cacheStores.MemoryCacheStore()
  const dispatcher = agent.compose(interceptors.cache({ store, type: 'private' }))
  return {
    name: 'hit, undici cache interceptor alone (memory)',
    once: () => fetchText(dispatcher, {}),
    close: () => agent.close(),
  }
}

function wirekitCase(name: string, cache: HttpCache): Case {
  const agent = new Agent({ connections: 1 })
  const dispatcher = agent.compose(cache.interceptor)
  const send = (extra: Record<string, string>) => fetchText(dispatcher, extra)
  let primed = false // the first request fills the cache; every later one must be a hit
  return {
    name,
    async once() {
      for await (const res of cache.run('http', 'GET', send)) {
        if (primed && !res.fromCache) throw new Error('expected a cache hit')
      }
      primed = true
    },
    async close() {
      await agent.close()
      await cache.close()
    },
  }
}

async function measure(c: Case): Promise<{ name: string; opsPerSec: number; meanUs: number }> {
  for (let i = 0; i < warmup; i++) await c.once()
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) await c.once()
  const ns = Number(process.hrtime.bigint() - start)
  await c.close()
  return { name: c.name, opsPerSec: (iterations * 1e9) / ns, meanUs: ns / iterations / 1000 }
}

const results = []
results.push(await measure(networkCase()))
results.push(await measure(bareUndiciCase()))
results.push(await measure(wirekitCase('hit, HttpCache memory', new HttpCache({ store: 'memory' }))))
results.push(
  await measure(
    wirekitCase('hit, HttpCache SQLite (file)', new HttpCache({ path: join(dir, 'bench.sqlite') })),
  ),
)

await new Promise<void>((resolve) => server.close(() => resolve()))
await rm(dir, { recursive: true, force: true })

const network = results[0]!.opsPerSec
console.log(`## HTTP cache hits vs the network path\n`)
console.log(
  `${iterations} sequential GETs of a ${body.length}-byte JSON body on 127.0.0.1 (after ${warmup} warm-up), Node ${process.version}.\n`,
)
console.log('| path | req/s | mean latency (µs) | vs network |')
console.log('| --- | ---: | ---: | ---: |')
for (const r of results) {
  console.log(
    `| ${r.name} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.meanUs.toFixed(1)} | ${(r.opsPerSec / network).toFixed(2)}× |`,
  )
}
