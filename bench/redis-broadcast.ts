// Benchmark: cross-node broadcast through Redis. Node A broadcasts to a room whose members are all
// connected to node B; both nodes share one real redis-server. Throughput: M broadcasts in a burst,
// time until every client on B has all of them. Latency: one broadcast at a time, time until the last
// client on B has it. wirekit RedisAdapter (sessions in Redis, and sessions local) against
// @socket.io/redis-adapter (classic pub/sub) on the same Redis, in the same run.
// Usage: node bench/redis-broadcast.ts [--quick] [--only wirekit|socket.io]
import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'
import { Server as SocketIoServer } from 'socket.io'
import { type Socket as IoClientSocket, io as ioClient } from 'socket.io-client'
import { MessageClient, MessageServer, type Peer, RedisAdapter } from '../src/messaging/index.ts'
import { startRedisServer } from '../test/helpers/redis-server.ts'
import { formatMs, formatRate, formatRatio, goalAtLeast, markdownTable, quantile } from './peers/format.ts'
import { quick, selected } from './peers/harness.ts'
import { jsonMessage } from './peers/payload.ts'

const CLIENTS = quick ? 20 : 100
const BURST = quick ? 2_000 : 20_000
const LATENCY_SAMPLES = quick ? 100 : 500
const CASE_LIMIT_MS = quick ? 60_000 : 180_000

/** Two nodes and CLIENTS clients on node B; `emit` broadcasts from node A to the clients' room. */
type Setup = {
  emit: (data: unknown) => void
  onMessage: (fn: () => void) => void
  close: () => Promise<void>
}
type Case = { name: string; start: (redisUrl: string) => Promise<Setup> }
type Result = { name: string; throughput: number; p50: number; p99: number }

function wirekitCase(sessions: 'redis' | 'local'): Case {
  return {
    name: `wirekit RedisAdapter (sessions: ${sessions})`,
    start: async (redisUrl) => {
      const prefix = `bench${Date.now()}${sessions}`
      const nodes = await Promise.all(
        [0, 1].map(async () => {
          const adapter = new RedisAdapter({ redis: redisUrl, prefix, sessions })
          const server = new MessageServer({ adapter })
          server.on('connection', (peer: Peer) => peer.join('room'))
          const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
          await adapter.ready()
          return { server, port: address.port }
        }),
      )
      const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
      const clients = await Promise.all(
        Array.from({ length: CLIENTS }, () => MessageClient.connect(`tcp://127.0.0.1:${b.port}`)),
      )
      let handler = (): void => {}
      for (const client of clients) client.on('m', () => handler())
      // Joins happen on connection; give them a moment to be visible.
      await new Promise((resolve) => setTimeout(resolve, 100))
      return {
        emit: (data) => a.server.to('room').emit('m', data),
        onMessage: (fn) => {
          handler = fn
        },
        close: async () => {
          await Promise.all(clients.map((c) => c.close()))
          await a.server.close()
          await b.server.close()
        },
      }
    },
  }
}

const socketIoCase: Case = {
  name: 'socket.io + @socket.io/redis-adapter',
  start: async (redisUrl) => {
    const connections: Redis[] = []
    const key = `bench${Date.now()}`
    const nodes = await Promise.all(
      [0, 1].map(async () => {
        const pub = new Redis(redisUrl)
        const sub = pub.duplicate()
        connections.push(pub, sub)
        const http = createHttpServer()
        const io = new SocketIoServer(http, {
          transports: ['websocket'],
          serveClient: false,
          perMessageDeflate: false,
        })
        io.adapter(createAdapter(pub, sub, { key }))
        io.on('connection', (socket) => socket.join('room'))
        http.listen(0, '127.0.0.1')
        await once(http, 'listening')
        return { io, port: (http.address() as AddressInfo).port }
      }),
    )
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const clients: IoClientSocket[] = await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const socket = ioClient(`http://127.0.0.1:${b.port}`, { transports: ['websocket'], forceNew: true })
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
        return socket
      }),
    )
    let handler = (): void => {}
    for (const socket of clients) socket.on('m', () => handler())
    await new Promise((resolve) => setTimeout(resolve, 100))
    return {
      emit: (data) => a.io.to('room').emit('m', data),
      onMessage: (fn) => {
        handler = fn
      },
      close: async () => {
        for (const socket of clients) socket.disconnect()
        a.io.disconnectSockets(true)
        b.io.disconnectSockets(true)
        await a.io.close()
        await b.io.close()
        for (const connection of connections) connection.disconnect()
      },
    }
  },
}

function withLimit<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish in ${CASE_LIMIT_MS} ms`)),
      CASE_LIMIT_MS,
    )
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

async function measure(setup: Setup): Promise<{ throughput: number; p50: number; p99: number }> {
  // Throughput: a burst of BURST broadcasts, until all CLIENTS have all of them.
  const total = BURST * CLIENTS
  let received = 0
  const done = new Promise<void>((resolve) => {
    setup.onMessage(() => {
      if (++received === total) resolve()
    })
  })
  const started = performance.now()
  for (let i = 0; i < BURST; i++) {
    setup.emit(jsonMessage(i))
    // Yield now and then so the sender's batches go out while it keeps producing.
    if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve))
  }
  await withLimit(done, 'burst').catch((error: Error) => {
    throw new Error(`${error.message}: ${received} of ${total} deliveries arrived`)
  })
  const throughput = BURST / ((performance.now() - started) / 1000)
  // Latency: one broadcast at a time, until the last client has it.
  const samples: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    let count = 0
    const arrived = new Promise<void>((resolve) => {
      setup.onMessage(() => {
        if (++count === CLIENTS) resolve()
      })
    })
    const t0 = performance.now()
    setup.emit(jsonMessage(i))
    await withLimit(arrived, 'latency sample')
    samples.push(performance.now() - t0)
  }
  samples.sort((x, y) => x - y)
  return { throughput, p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) }
}

const redis = await startRedisServer()
const results: Result[] = []
try {
  for (const c of [wirekitCase('redis'), wirekitCase('local'), socketIoCase]) {
    if (!selected(c.name)) continue
    const setup = await c.start(redis.url)
    try {
      results.push({ name: c.name, ...(await measure(setup)) })
    } finally {
      await setup.close()
    }
  }
} finally {
  await redis.stop()
}

const peer = results.find((r) => r.name.startsWith('socket.io'))
const rows = results.map((r) => [
  r.name,
  `${formatRate(r.throughput)} broadcasts/s`,
  `${formatRate(r.throughput * CLIENTS)} deliveries/s`,
  formatMs(r.p50),
  formatMs(r.p99),
  r === peer ? '1.00×' : formatRatio(r.throughput, peer?.throughput),
  r === peer ? '' : goalAtLeast(peer ? r.throughput / peer.throughput : undefined, 2),
])
console.log(`## Cross-node broadcast through Redis (${CLIENTS} clients on the receiving node)\n`)
console.log(
  `Node A broadcasts ${BURST} 64-byte JSON messages to a room whose ${CLIENTS} members are on node B; one redis-server${quick ? ' (quick run)' : ''}.\n`,
)
console.log(
  markdownTable(
    ['case', 'throughput', 'deliveries', 'latency p50', 'latency p99', 'vs socket.io', 'goal ≥ 2×'],
    rows,
  ),
)
process.exit(0)
