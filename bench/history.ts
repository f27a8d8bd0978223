// Benchmark: the history log of durable rooms. (1) Append throughput into one room: wirekit's stores
// (SQLite batched in one transaction per event-loop turn, Redis Streams one script call per turn,
// memory) beside the floor of the same storage used raw (node:sqlite prepared INSERTs in one transaction
// per batch; ioredis XADD pipelined). (2) Recovery read: a subscriber that missed 10 000 messages reads
// them back (one read of 10 000 entries), beside the raw SELECT / XRANGE. Best of several runs each.
// Usage: node bench/history.ts [--quick] [--only <case>]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { Redis } from 'ioredis'
import {
  type HistoryStore,
  MemoryHistoryStore,
  RedisHistoryStore,
  SqliteHistoryStore,
} from '../src/messaging/cluster/history/index.ts'
import { startRedisServer } from '../test/helpers/redis-server.ts'
import { formatMs, formatRate, formatRatio, markdownTable } from './peers/format.ts'
import { quick, selected } from './peers/harness.ts'

const APPENDS = quick ? 20_000 : 200_000
const IN_FLIGHT = 5_000 // appends issued before waiting for them: what a busy server has pending
const RECOVER = 10_000
const RUNS = quick ? 2 : 5
const DEADLINE = Date.now() + (quick ? 120_000 : 600_000)
const payload = Buffer.from(
  JSON.stringify({ text: 'hello from the benchmark', from: 'alice', n: 12345 }).padEnd(64),
)

const dir = mkdtempSync(join(tmpdir(), 'wirekit-bench-history-'))
const redis = await startRedisServer()
let files = 0
let prefixes = 0

type Append = { name: string; peerOf?: string; run: () => Promise<number> }
const unlimited = { maxMessages: Number.POSITIVE_INFINITY, maxBytes: Number.POSITIVE_INFINITY }

async function timeStore(store: HistoryStore): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < APPENDS; i += IN_FLIGHT) {
    const batch: Promise<unknown>[] = []
    for (let k = 0; k < IN_FLIGHT; k++) batch.push(store.append('room', 'chat', payload))
    await Promise.all(batch)
  }
  const ms = performance.now() - started
  await store.close()
  return APPENDS / (ms / 1000)
}

function rawSqlite(): number {
  const db = new DatabaseSync(join(dir, `raw${files++}.sqlite`))
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;')
  db.exec(`CREATE TABLE messages (room INTEGER NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,
    size INTEGER NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (room, seq)) WITHOUT ROWID`)
  const insert = db.prepare('INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)')
  const started = performance.now()
  for (let i = 0; i < APPENDS; i += IN_FLIGHT) {
    db.exec('BEGIN')
    for (let k = 1; k <= IN_FLIGHT; k++) insert.run(1, i + k, Date.now(), payload.length + 4, 'chat', payload)
    db.exec('COMMIT')
  }
  const ms = performance.now() - started
  db.close()
  return APPENDS / (ms / 1000)
}

async function rawRedis(): Promise<number> {
  const client = new Redis(redis.url)
  const key = `raw${prefixes++}`
  const started = performance.now()
  for (let i = 0; i < APPENDS; i += IN_FLIGHT) {
    const pipeline = client.pipeline()
    for (let k = 1; k <= IN_FLIGHT; k++)
      pipeline.xadd(key, `${i + k}-0`, 't', Date.now(), 'n', 'chat', 'd', payload)
    await pipeline.exec()
  }
  const ms = performance.now() - started
  await client.quit()
  return APPENDS / (ms / 1000)
}

const appendCases: Append[] = [
  { name: 'wirekit memory store', run: () => timeStore(new MemoryHistoryStore(unlimited)) },
  {
    name: 'wirekit SQLite store (WAL, batched)',
    peerOf: 'raw node:sqlite',
    run: () => timeStore(new SqliteHistoryStore({ ...unlimited, path: join(dir, `w${files++}.sqlite`) })),
  },
  { name: 'raw node:sqlite', run: async () => rawSqlite() },
  {
    name: 'wirekit Redis Streams store',
    peerOf: 'raw ioredis XADD pipeline',
    run: () => timeStore(new RedisHistoryStore({ ...unlimited, redis: redis.url, prefix: `w${prefixes++}` })),
  },
  { name: 'raw ioredis XADD pipeline', run: rawRedis },
]

type Recover = { name: string; peerOf?: string; setup: () => Promise<() => Promise<number>> }

async function filled(store: HistoryStore): Promise<HistoryStore> {
  for (let i = 0; i < RECOVER; i += IN_FLIGHT) {
    await Promise.all(
      Array.from({ length: Math.min(IN_FLIGHT, RECOVER - i) }, () => store.append('room', 'chat', payload)),
    )
  }
  return store
}
const readStore = (store: HistoryStore) => async (): Promise<number> => {
  const started = performance.now()
  const page = await store.read('room', {
    after: { offset: 0, epoch: (await store.head('room')).epoch },
    limit: RECOVER,
  })
  const ms = performance.now() - started
  if (page.entries.length !== RECOVER) throw new Error(`read ${page.entries.length} of ${RECOVER}`)
  return ms
}
const recoverCases: Recover[] = [
  {
    name: 'wirekit memory store',
    setup: async () => readStore(await filled(new MemoryHistoryStore(unlimited))),
  },
  {
    name: 'wirekit SQLite store',
    peerOf: 'raw node:sqlite SELECT',
    setup: async () =>
      readStore(
        await filled(new SqliteHistoryStore({ ...unlimited, path: join(dir, `r${files++}.sqlite`) })),
      ),
  },
  {
    name: 'raw node:sqlite SELECT',
    setup: async () => {
      const path = join(dir, `r${files++}.sqlite`)
      await (await filled(new SqliteHistoryStore({ ...unlimited, path }))).close()
      const db = new DatabaseSync(path)
      const select = db.prepare(
        'SELECT seq, time, name, data FROM messages WHERE room = 1 AND seq > ? ORDER BY seq LIMIT ?',
      )
      return async () => {
        const started = performance.now()
        const rows = select.all(0, RECOVER)
        const ms = performance.now() - started
        if (rows.length !== RECOVER) throw new Error(`raw read ${rows.length}`)
        return ms
      }
    },
  },
  {
    name: 'wirekit Redis Streams store',
    peerOf: 'raw ioredis XRANGE',
    setup: async () =>
      readStore(
        await filled(new RedisHistoryStore({ ...unlimited, redis: redis.url, prefix: `r${prefixes++}` })),
      ),
  },
  {
    name: 'raw ioredis XRANGE',
    setup: async () => {
      const prefix = `r${prefixes++}`
      await (await filled(new RedisHistoryStore({ ...unlimited, redis: redis.url, prefix }))).close()
      const client = new Redis(redis.url)
      return async () => {
        const started = performance.now()
        const rows = await client.xrangeBuffer(`${prefix}:{h:room}`, '1-0', '+', 'COUNT', RECOVER)
        const ms = performance.now() - started
        if (rows.length !== RECOVER) throw new Error(`raw read ${rows.length}`)
        return ms
      }
    },
  },
]

const failures: string[] = []
const appendRates = new Map<string, number>()
const recoverMs = new Map<string, number>()
try {
  for (const c of appendCases) {
    if (!selected(c.name)) continue
    try {
      for (let r = 0; r < RUNS && Date.now() < DEADLINE; r++) {
        const rate = await c.run()
        appendRates.set(c.name, Math.max(appendRates.get(c.name) ?? 0, rate))
      }
    } catch (error) {
      failures.push(`${c.name}: ${(error as Error).message}`)
    }
  }
  for (const c of recoverCases) {
    if (!selected(c.name)) continue
    try {
      const read = await c.setup()
      for (let r = 0; r < RUNS + 2 && Date.now() < DEADLINE; r++) {
        const ms = await read()
        recoverMs.set(c.name, Math.min(recoverMs.get(c.name) ?? Number.POSITIVE_INFINITY, ms))
      }
    } catch (error) {
      failures.push(`${c.name}: ${(error as Error).message}`)
    }
  }
} finally {
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
}

const lines = ['## Durable rooms: history log append and recovery read', '']
lines.push(
  `Append: ${APPENDS} appends of a 64-byte payload into one room, ${IN_FLIGHT} in flight, resolved once stored (SQLite: committed; Redis: the script returned). Recovery: one read of ${RECOVER} entries after offset 0. Best of ${RUNS} runs${quick ? ' (quick run)' : ''}; one redis-server on loopback.`,
  '',
)
lines.push(
  markdownTable(
    ['append', 'throughput', 'vs raw storage', 'goal'],
    appendCases
      .filter((c) => appendRates.has(c.name))
      .map((c) => {
        const rate = appendRates.get(c.name)!
        const goal = c.name.includes('SQLite') ? `≥ 100k/s: ${rate >= 100_000 ? 'met' : 'not met'}` : ''
        return [
          c.name,
          `${formatRate(rate)} msg/s`,
          c.peerOf ? formatRatio(rate, appendRates.get(c.peerOf)) : '',
          goal,
        ]
      }),
  ),
  '',
)
lines.push(
  markdownTable(
    [`recovery read of ${RECOVER}`, 'time', 'raw storage / wirekit', 'goal'],
    recoverCases
      .filter((c) => recoverMs.has(c.name))
      .map((c) => {
        const ms = recoverMs.get(c.name)!
        const embedded = c.name.startsWith('wirekit') && !c.name.includes('Redis')
        const goal = embedded ? `≤ 200 ms: ${ms <= 200 ? 'met' : 'not met'}` : ''
        return [c.name, formatMs(ms), c.peerOf ? formatRatio(recoverMs.get(c.peerOf), ms) : '', goal]
      }),
  ),
)
if (failures.length > 0) lines.push('', ...failures.map((f) => `- failed: ${f}`))
process.stdout.write(`${lines.join('\n')}\n`)
process.exit(0)
