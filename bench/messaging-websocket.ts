// Benchmark: messaging over WebSocket in Node, one connection, 64-byte JSON messages. wirekit over
// ws:// (sequence numbers and acks on, exactly-once) against socket.io (websocket transport only,
// at-most-once) and raw `ws` (one send per message). One-way client→server, then request/response
// with 64 in flight (wirekit request vs socket.io emitWithAck). Client and server share this process
// (and its core) for every peer alike; best of 3 rounds each, peers interleaved. wirekit runs twice:
// with batch envelopes (the default: several envelopes per WebSocket message) and with `batch: false`
// (one envelope per WebSocket message). CPU time per message of the process is shown beside the rates
// (steadier than rates on a loaded machine).
// Usage: node bench/messaging-websocket.ts [--quick]
import http from 'node:http'
import { Server as SocketIoServer } from 'socket.io'
import { io as socketIoClient } from 'socket.io-client'
import { WebSocketServer, WebSocket as WsClient } from 'ws'
import { MessageClient, MessageServer } from '../src/messaging/index.ts'
import { formatRate, formatRatio, goalAtLeast, markdownTable, median } from './peers/format.ts'
import { jsonMessage } from './peers/payload.ts'

const quick = process.argv.includes('--quick')
const COUNT = quick ? 20_000 : 100_000
const REQUESTS = quick ? 5_000 : 20_000
const IN_FLIGHT = 64
/** The wirekit sender's window of emits awaiting their ack. */
const WINDOW = 4096
const ROUNDS = 3
const DEADLINE_MS = 60_000

type Peer = { oneway(n: number): Promise<number>; reqres(n: number): Promise<number>; close(): Promise<void> }
/** A rate, and the CPU time of this process per message while it was measured. */
type Figure = { rate: number; cpuUs: number }

async function measured(n: number, run: () => Promise<number>): Promise<Figure> {
  const before = process.cpuUsage()
  const rate = await run()
  const used = process.cpuUsage(before)
  return { rate, cpuUs: (used.user + used.system) / n }
}

function waitUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (check()) resolve()
      else if (Date.now() > deadline) reject(new Error('benchmark deadline passed'))
      else setImmediate(poll)
    }
    poll()
  })
}

async function inFlight(n: number, call: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now()
  let next = 0
  const worker = async () => {
    while (next < n) await call(next++)
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  return (n / (performance.now() - started)) * 1000
}

async function wirekit(batch: boolean): Promise<Peer> {
  const server = new MessageServer({ peerBuffer: { maxMessages: 50_000 } })
  let received = 0
  server.on('connection', (peer) => peer.on('m', () => received++))
  server.handle('echo', (data) => data)
  const { port } = (await server.listen({ port: 0, websocket: { path: '/ws' } })) as { port: number }
  const client = await MessageClient.connect(`ws://127.0.0.1:${port}/ws`, {
    outbox: { maxMessages: 50_000 },
    batch,
  })
  return {
    async oneway(n) {
      received = 0
      const started = performance.now()
      // A window of WINDOW emits awaiting their ack, refilled by halves as the TCP benchmark's sender
      // does (bench/peers/wirekit-peers.ts): waiting for the last of every 4096 emptied the pipe each time.
      let inFlight = 0
      let wake: (() => void) | undefined
      const settled = (): void => {
        inFlight--
        if (wake !== undefined && inFlight <= WINDOW / 2) {
          wake()
          wake = undefined
        }
      }
      for (let i = 0; i < n; i++) {
        if (inFlight >= WINDOW) await new Promise<void>((resolve) => (wake = resolve))
        inFlight++
        client.emit('m', jsonMessage(i)).then(settled, settled)
      }
      await waitUntil(() => received >= n)
      return (n / (performance.now() - started)) * 1000
    },
    reqres: (n) => inFlight(n, (i) => client.request('echo', jsonMessage(i))),
    async close() {
      await client.close()
      await server.close()
    },
  }
}

async function socketIo(): Promise<Peer> {
  const httpServer = http.createServer()
  const server = new SocketIoServer(httpServer, { transports: ['websocket'], perMessageDeflate: false })
  let received = 0
  server.on('connection', (socket) => {
    socket.on('m', () => received++)
    socket.on('echo', (data, ack) => ack(data))
  })
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  const { port } = httpServer.address() as { port: number }
  const client = socketIoClient(`http://127.0.0.1:${port}`, { transports: ['websocket'] })
  await new Promise<void>((resolve) => client.once('connect', () => resolve()))
  return {
    async oneway(n) {
      received = 0
      const started = performance.now()
      for (let i = 0; i < n; i++) {
        client.emit('m', jsonMessage(i))
        if (i % 4096 === 4095) await new Promise((resolve) => setImmediate(resolve))
      }
      await waitUntil(() => received >= n)
      return (n / (performance.now() - started)) * 1000
    },
    reqres: (n) => inFlight(n, (i) => client.emitWithAck('echo', jsonMessage(i))),
    async close() {
      client.close()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

async function rawWs(): Promise<Peer> {
  const httpServer = http.createServer()
  const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false })
  let received = 0
  wss.on('connection', (ws) => ws.on('message', () => received++))
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  const { port } = httpServer.address() as { port: number }
  const client = new WsClient(`ws://127.0.0.1:${port}`, { perMessageDeflate: false })
  await new Promise((resolve) => client.once('open', resolve))
  return {
    async oneway(n) {
      received = 0
      const started = performance.now()
      for (let i = 0; i < n; i++) {
        client.send(JSON.stringify(jsonMessage(i)))
        if (i % 4096 === 4095) await new Promise((resolve) => setImmediate(resolve))
      }
      await waitUntil(() => received >= n)
      return (n / (performance.now() - started)) * 1000
    },
    reqres: async () => Number.NaN,
    async close() {
      client.close()
      await new Promise((resolve) => wss.close(resolve))
      httpServer.close()
    },
  }
}

const makers: [string, () => Promise<Peer>][] = [
  ['wirekit ws://', () => wirekit(true)],
  ['wirekit ws://, batch: false', () => wirekit(false)],
  ['socket.io (websocket)', socketIo],
  ['ws (raw, one send per message)', rawWs],
]
const onewayRuns = new Map<string, Figure[]>()
const reqresRuns = new Map<string, Figure[]>()
const add = (map: Map<string, Figure[]>, name: string, figure: Figure) =>
  map.set(name, [...(map.get(name) ?? []), figure])
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, make] of makers) {
    const peer = await make()
    add(onewayRuns, name, await measured(COUNT, () => peer.oneway(COUNT)))
    const rr = await measured(REQUESTS, () => peer.reqres(REQUESTS))
    if (!Number.isNaN(rr.rate)) add(reqresRuns, name, rr)
    await peer.close()
  }
}
const best = (map: Map<string, Figure[]>) =>
  new Map([...map].map(([name, list]) => [name, Math.max(...list.map((f) => f.rate))]))
const cpu = (map: Map<string, Figure[]>, name: string) =>
  median(map.get(name)!.map((f) => f.cpuUs)).toFixed(1)
const oneway = best(onewayRuns)
const reqres = best(reqresRuns)
const ours = oneway.get('wirekit ws://')!
const goals: Record<string, number> = { 'socket.io (websocket)': 5, 'ws (raw, one send per message)': 1.5 }
const lines = [
  '## Messaging over WebSocket (Node, one connection, 64 B JSON)',
  '',
  `One-way client→server, ${COUNT} messages, best of ${ROUNDS}; client and server in one process for every peer.`,
  '',
  markdownTable(
    ['peer', 'messages/s', 'wirekit ×', 'CPU µs/msg (median)', 'goal'],
    [...oneway].map(([name, rate]) => [
      name,
      formatRate(rate),
      name === 'wirekit ws://' ? '1.00×' : formatRatio(ours, rate),
      cpu(onewayRuns, name),
      goals[name] === undefined ? '' : goalAtLeast(ours / rate, goals[name]!),
    ]),
  ),
  '',
  `Request/response, ${IN_FLIGHT} in flight, ${REQUESTS} requests, best of ${ROUNDS}.`,
  '',
  markdownTable(
    ['peer', 'requests/s', 'wirekit ×', 'CPU µs/request (median)', 'goal'],
    [...reqres].map(([name, rate]) => [
      name,
      formatRate(rate),
      name === 'wirekit ws://' ? '1.00×' : formatRatio(reqres.get('wirekit ws://'), rate),
      cpu(reqresRuns, name),
      name === 'socket.io (websocket)' ? goalAtLeast(reqres.get('wirekit ws://')! / rate, 3) : '',
    ]),
  ),
]
console.log(lines.join('\n'))
process.exit(0)
