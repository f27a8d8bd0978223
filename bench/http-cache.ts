// Benchmark: a GET answered from HttpSession's cache (memory, SQLite; and the first, cached delivery of
// cache-then-network) vs the same GET over the network (undici.request, keep-alive, loopback), all in one run. Also
// undici's bare cache interceptor, the floor wirekit builds on. Goals (issue 15): memory hit ≥ 10× the network path,
// SQLite hit ≥ 3×, cache-then-network's first delivery within the same bound.
// Run: node bench/http-cache.ts [--quick]

import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, cacheStores, type Dispatcher, interceptors, request } from 'undici'
import { HttpSession } from '../src/http/index.ts'

const quick = process.argv.includes('--quick')
const iterations = quick ? 2_000 : 20_000
const warmup = quick ? 200 : 2_000
const rounds = quick ? 1 : 3
const body = JSON.stringify({ id: 1, name: 'wirekit', tags: ['a', 'b', 'c'], text: 'x'.repeat(512) })

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600', etag: '"b1"' })
  res.end(body)
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/item`
const dir = await mkdtemp(join(tmpdir(), 'wirekit-bench-cache-'))

/** `once` returns the µs to count when only part of it is the figure (the first delivery), else nothing. */
type Case = { name: string; once: () => Promise<number | undefined | unknown>; close: () => Promise<void> }

async function fetchJSON(dispatcher: Dispatcher) {
  const res = await request(url, { dispatcher })
  return res.body.json()
}

function networkCase(): Case {
  const agent = new Agent({ connections: 1 })
  return {
    name: 'network (undici.request, keep-alive)',
    once: () => fetchJSON(agent),
    close: () => agent.close(),
  }
}

function bareUndiciCase(): Case {
  const agent = new Agent({ connections: 1 })
  const store = new cacheStores.MemoryCacheStore()
  const dispatcher = agent.compose(interceptors.cache({ store, type: 'private' }))
  return {
    name: 'hit, undici cache interceptor alone (memory)',
    once: () => fetchJSON(dispatcher),
    close: () => agent.close(),
  }
}

function sessionCase(name: string, session: HttpSession, policy: 'http' | 'cache-then-network'): Case {
  let primed = false // the first request fills the cache; every later one must be a hit
  return {
    name,
    async once() {
      if (policy === 'http') {
        const res = await session.get(url)
        if (primed && !res.fromCache) throw new Error('expected a cache hit')
        primed = true
        return undefined
      }
      // The first delivery is what a screen renders at once: timed alone. The origin's answer that follows is
      // awaited outside the timed part, so one round trip never overlaps the next request.
      const start = process.hrtime.bigint()
      const pending = session.get(url, { cachePolicy: 'cache-then-network' })
      const first = await pending
      const ns = Number(process.hrtime.bigint() - start)
      if (primed && !first.fromCache) throw new Error('expected the cached delivery first')
      for await (const _ of pending.updates());
      primed = true
      return ns
    },
    async close() {
      await session.close()
    },
  }
}

async function measure(c: Case): Promise<{ name: string; opsPerSec: number; meanUs: number }> {
  for (let i = 0; i < warmup; i++) await c.once()
  let partial = 0
  let timed = false
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) {
    const part = await c.once()
    if (typeof part === 'number') {
      partial += part
      timed = true
    }
  }
  const ns = timed ? partial : Number(process.hrtime.bigint() - start)
  await c.close()
  return { name: c.name, opsPerSec: (iterations * 1e9) / ns, meanUs: ns / iterations / 1000 }
}

const makers: Array<() => Case> = [
  networkCase,
  bareUndiciCase,
  () => sessionCase('hit, HttpSession memory', new HttpSession({ cache: { store: 'memory' } }), 'http'),
  () =>
    sessionCase(
      'hit, HttpSession SQLite (file)',
      new HttpSession({ cache: { path: join(dir, `bench-${Math.random()}.sqlite`) } }),
      'http',
    ),
  () =>
    sessionCase(
      'cache-then-network, first delivery (memory)',
      new HttpSession({ cache: { store: 'memory' } }),
      'cache-then-network',
    ),
]
// Rounds interleave the cases (ratios survive a loaded machine better); the best round of each case is kept.
const best = new Map<string, { name: string; opsPerSec: number; meanUs: number }>()
for (let round = 0; round < rounds; round++) {
  for (const make of makers) {
    const r = await measure(make())
    const held = best.get(r.name)
    if (held === undefined || r.opsPerSec > held.opsPerSec) best.set(r.name, r)
  }
}

await new Promise<void>((resolve) => server.close(() => resolve()))
await rm(dir, { recursive: true, force: true })

const results = [...best.values()]
const network = results[0].opsPerSec
console.log(`## HTTP cache hits vs the network path\n`)
console.log(
  `${iterations} sequential GETs of a ${body.length}-byte JSON body (parsed) on 127.0.0.1 after ${warmup} warm-up, best of ${rounds} interleaved rounds, Node ${process.version}.\n`,
)
console.log('| path | req/s | mean latency (µs) | vs network |')
console.log('| --- | ---: | ---: | ---: |')
for (const r of results) {
  console.log(
    `| ${r.name} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.meanUs.toFixed(1)} | ${(r.opsPerSec / network).toFixed(2)}× |`,
  )
}
