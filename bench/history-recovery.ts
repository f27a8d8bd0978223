// Benchmark: recovery through the server. 10 000 publications went into a durable room while a
// subscriber was away; it subscribes again from its last position: time until it has all 10 000 (replayed
// from the log by its feed, read in pages, sent as room messages). Memory, SQLite and Redis Streams,
// beside the same 10 000 messages sent live to a connected client (`to(room).emit`) in the same run.
// Best of runs, cases interleaved. Usage: node bench/history-recovery.ts [--quick] [--only <case part>]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type HistoryOptions, MessageClient, MessageServer } from '../src/messaging/index.ts'
import { startRedisServer } from '../test/helpers/redis-server.ts'
import { formatMs, formatRatio, markdownTable } from './peers/format.ts'
import { quick, selected } from './peers/harness.ts'
import { jsonMessage } from './peers/payload.ts'

const MISSED = 10_000
const RUNS = quick ? 2 : 5
const LIMIT_MS = 60_000
const dir = mkdtempSync(join(tmpdir(), 'wirekit-bench-recovery-'))
const redis = await startRedisServer()
let n = 0

type Case = { name: string; history?: () => HistoryOptions }
const cases: Case[] = [
  { name: 'live: 10 000 `to(room).emit` to a connected client (reference)' },
  {
    name: 'recover 10 000 from the memory store',
    history: () => ({ store: 'memory', maxMessages: 100_000 }),
  },
  {
    name: 'recover 10 000 from the SQLite store',
    history: () => ({ store: 'sqlite', path: join(dir, `r${n++}.sqlite`), maxMessages: 100_000 }),
  },
  {
    name: 'recover 10 000 from the Redis Streams store',
    history: () => ({ store: 'redis', redis: redis.url, prefix: `r${n++}`, maxMessages: 100_000 }),
  },
]

function deadline<T>(promise: Promise<T>, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(what())), LIMIT_MS)
    }),
  ]).finally(() => clearTimeout(timer))
}

type Result = { ms: number; cpuMs: number }

async function once(c: Case): Promise<Result> {
  const history = c.history?.()
  const server = new MessageServer(history === undefined ? {} : { history })
  server.on('connection', (peer) => {
    if (history === undefined) peer.join('room')
  })
  const { port } = (await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
  const client = await MessageClient.connect(`tcp://127.0.0.1:${port}`)
  let received = 0
  let done = (): void => {}
  const finished = new Promise<void>((resolve) => (done = resolve))
  const count = (): void => {
    if (++received === MISSED) done()
  }
  let started: number
  let cpu: NodeJS.CpuUsage
  if (history === undefined) {
    client.on('m', count)
    await new Promise((resolve) => setTimeout(resolve, 50))
    started = performance.now()
    cpu = process.cpuUsage()
    for (let i = 0; i < MISSED; i++) server.to('room').emit('m', jsonMessage(i))
  } else {
    // What was published while the subscriber was away: everything after the head it last saw.
    const before = (await server.history('room', { last: 1 }))[0]
    const since = { offset: before?.offset ?? 0, epoch: before?.epoch ?? '' }
    const published: Promise<unknown>[] = []
    for (let i = 0; i < MISSED; i++) published.push(server.publish('room', 'm', jsonMessage(i)))
    await Promise.all(published)
    started = performance.now()
    cpu = process.cpuUsage()
    const sub = await client.subscribe('room', { recover: true, since })
    sub.on('message', count)
  }
  await deadline(finished, () => `${c.name}: ${received}/${MISSED} after ${LIMIT_MS} ms`)
  const ms = performance.now() - started
  const used = process.cpuUsage(cpu)
  await client.close()
  await server.close()
  return { ms, cpuMs: (used.user + used.system) / 1000 }
}

const best = new Map<string, number>()
const bestCpu = new Map<string, number>()
const failures: string[] = []
try {
  for (let run = 0; run < RUNS; run++) {
    for (const c of cases) {
      if (!selected(c.name)) continue
      try {
        const { ms, cpuMs } = await once(c)
        best.set(c.name, Math.min(best.get(c.name) ?? Number.POSITIVE_INFINITY, ms))
        bestCpu.set(c.name, Math.min(bestCpu.get(c.name) ?? Number.POSITIVE_INFINITY, cpuMs))
      } catch (error) {
        failures.push((error as Error).message)
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
  await redis.stop()
}
const live = best.get(cases[0]!.name)
const lines = [
  '## Durable rooms: a subscriber recovers 10 000 missed messages, through the server',
  '',
  `10 000 64-byte JSON publications made while the subscriber was away; time from its subscribe (with its last position) until it has all of them, beside the same 10 000 sent live to a connected client. CPU time: this process's (server and client share it), which a loaded machine inflates much less than wall time. Best of ${RUNS} runs, cases interleaved${quick ? ' (quick run)' : ''}; one redis-server on loopback.`,
  '',
  markdownTable(
    ['case', 'time', 'vs live', 'CPU time', 'goal'],
    cases
      .filter((c) => best.has(c.name))
      .map((c) => {
        const ms = best.get(c.name)!
        const embedded = c.name.includes('memory') || c.name.includes('SQLite')
        return [
          c.name,
          formatMs(ms),
          c === cases[0] ? '1.00×' : formatRatio(ms, live),
          formatMs(bestCpu.get(c.name)!),
          embedded ? `≤ 200 ms: ${ms <= 200 ? 'met' : 'not met'}` : '',
        ]
      }),
  ),
]
if (failures.length > 0) lines.push('', ...failures.map((f) => `- failed: ${f}`))
process.stdout.write(`${lines.join('\n')}\n`)
process.exit(0)
