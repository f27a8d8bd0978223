// Benchmark: publishing into a room through the whole server. The same room, the same clients: a
// non-durable broadcast (`to(room).emit`, peers joined) against a durable room (`server.publish`, clients
// subscribed) on the memory and SQLite stores. Time until every client has every message, best of runs.
// Server and clients share this process, so its CPU time per publication is also reported: on a shared
// machine wall time swings with the load, CPU time much less.
// On Redis (one real redis-server, both cases on a RedisAdapter): the pub/sub broadcast path against
// the durable Redis Streams store.
// Usage: node bench/history-publish.ts [--quick] [--only <case part>]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type HistoryOptions,
  MessageClient,
  MessageServer,
  type MessageServerOptions,
  RedisAdapter,
} from '../src/messaging/index.ts'
import { startRedisServer } from '../test/helpers/redis-server.ts'
import { formatRate, formatRatio, markdownTable } from './peers/format.ts'
import { quick, selected } from './peers/harness.ts'
import { jsonMessage } from './peers/payload.ts'

const CLIENTS = quick ? 10 : 20
const MESSAGES = quick ? 5_000 : 20_000
const RUNS = quick ? 2 : 4
const LIMIT_MS = 120_000
const dir = mkdtempSync(join(tmpdir(), 'wirekit-bench-publish-'))
let files = 0

const redis = await startRedisServer()
let prefixes = 0

type Case = { name: string; history?: () => HistoryOptions; redis?: boolean }
const cases: Case[] = [
  { name: 'non-durable `to(room).emit` (joined peers)' },
  {
    name: 'durable, memory store (`publish`, subscribers)',
    history: () => ({ store: 'memory', maxMessages: 100_000 }),
  },
  {
    name: 'durable, SQLite store (`publish`, subscribers)',
    history: () => ({ store: 'sqlite', path: join(dir, `p${files++}.sqlite`), maxMessages: 100_000 }),
  },
  { name: 'Redis: non-durable `to(room).emit` (RedisAdapter pub/sub)', redis: true },
  {
    name: 'Redis: durable, Redis Streams store (`publish`, subscribers)',
    redis: true,
    history: () => ({ store: 'redis', redis: redis.url, prefix: `b${prefixes++}`, maxMessages: 100_000 }),
  },
]

type Result = { rate: number; cpuRate: number }

async function once(c: Case): Promise<Result> {
  const history = c.history?.()
  const adapter = c.redis ? new RedisAdapter({ redis: redis.url, prefix: `a${prefixes++}` }) : undefined
  await adapter?.ready()
  const options: MessageServerOptions = {}
  if (history !== undefined) options.history = history
  if (adapter !== undefined) options.adapter = adapter
  const server = new MessageServer(options)
  server.on('connection', (peer) => {
    if (history === undefined) peer.join('room')
  })
  const { port } = (await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, () => MessageClient.connect(`tcp://127.0.0.1:${port}`)),
  )
  let received = 0
  const total = CLIENTS * MESSAGES
  let done = (): void => {}
  const finished = new Promise<void>((resolve) => (done = resolve))
  const count = (): void => {
    if (++received === total) done()
  }
  for (const client of clients) {
    if (history === undefined) client.on('m', count)
    else (await client.subscribe('room', { recover: true })).on('message', count)
  }
  await new Promise((resolve) => setTimeout(resolve, 100))
  const started = performance.now()
  const cpu = process.cpuUsage()
  for (let i = 0; i < MESSAGES; i++) {
    if (history === undefined) server.to('room').emit('m', jsonMessage(i))
    else void server.publish('room', 'm', jsonMessage(i))
    if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve))
  }
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    finished,
    new Promise(
      (_, reject) =>
        (timer = setTimeout(() => reject(new Error(`${received}/${total} after ${LIMIT_MS} ms`)), LIMIT_MS)),
    ),
  ]).finally(() => clearTimeout(timer))
  const rate = MESSAGES / ((performance.now() - started) / 1000)
  const used = process.cpuUsage(cpu)
  const cpuRate = MESSAGES / ((used.user + used.system) / 1e6)
  await Promise.all(clients.map((client) => client.close()))
  await server.close()
  await adapter?.close()
  return { rate, cpuRate }
}

const best = new Map<string, number>()
const bestCpu = new Map<string, number>()
const failures: string[] = []
try {
  for (let run = 0; run < RUNS; run++) {
    for (const c of cases) {
      if (!selected(c.name)) continue
      try {
        const { rate, cpuRate } = await once(c)
        best.set(c.name, Math.max(best.get(c.name) ?? 0, rate))
        bestCpu.set(c.name, Math.max(bestCpu.get(c.name) ?? 0, cpuRate))
      } catch (error) {
        failures.push(`${c.name}: ${(error as Error).message}`)
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
  await redis.stop()
}
/** Each case against the non-durable broadcast of its own setting (embedded, or on Redis). */
const baseOf = (c: Case) => cases.find((b) => b.history === undefined && b.redis === c.redis)!
const lines = [
  `## Durable rooms: publish into a room of ${CLIENTS} clients, through the server`,
  '',
  `${MESSAGES} 64-byte JSON messages into one room; time until each of the ${CLIENTS} clients has all of them. Best of ${RUNS} runs, cases interleaved${quick ? ' (quick run)' : ''}. Ratios against the non-durable broadcast of the same setting (embedded, or on one redis-server). "Per CPU-second": publications per second of this process's CPU time (server and clients share it).`,
  '',
  markdownTable(
    ['case', 'publications/s', 'vs non-durable', 'per CPU-second', 'vs non-durable (CPU)', 'goal'],
    cases
      .filter((c) => best.has(c.name))
      .map((c) => {
        const rate = best.get(c.name)!
        const cpuRate = bestCpu.get(c.name)!
        const base = best.get(baseOf(c).name)
        const baseCpu = bestCpu.get(baseOf(c).name)
        const ratio = base === undefined ? undefined : rate / base
        const goal = c.name.includes('memory')
          ? `≥ 0.7×: ${ratio !== undefined && ratio >= 0.7 ? 'met' : 'not met'}`
          : ''
        const first = c === baseOf(c)
        return [
          c.name,
          formatRate(rate),
          first ? '1.00×' : formatRatio(rate, base),
          formatRate(cpuRate),
          first ? '1.00×' : formatRatio(cpuRate, baseCpu),
          goal,
        ]
      }),
  ),
]
if (failures.length > 0) lines.push('', ...failures.map((f) => `- failed: ${f}`))
process.stdout.write(`${lines.join('\n')}\n`)
process.exit(0)
